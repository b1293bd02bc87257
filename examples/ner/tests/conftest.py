"""The suite's test kit: per-test isolation (suite_env), tiny_model and suite_with_plugin."""

pytest_plugins = ["core.testing"]
