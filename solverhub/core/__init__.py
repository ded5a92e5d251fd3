"""The host: hook specifications, plugin manager, problem and result types, configs, runner, CLI."""
