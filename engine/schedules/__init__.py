"""Schedules: finding them, their ticks and DST-correct cron times, and their evaluation."""
