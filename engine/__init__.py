"""solidflow's engine: plans, the scheduler, executors, the event log and the instance."""
