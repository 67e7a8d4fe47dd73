"""Planning: validate run_config, select steps and turn a pipeline into an execution plan."""
