"""The names of the MCP tools, in one place: the server, the demo, the evaluations and the benchmark
all use these, so a rename is one change."""

FIND_TOOL = "find_coworker_identity_checks"
GET_TOOL = "get_coworker_identity_check"
UPDATE_TOOL = "update_coworker_identity_check"
# The command tools: the only way to change a check's VerificationStatus.
LIST_COMMANDS_TOOL = "list_coworker_identity_check_commands"
RUN_COMMAND_TOOL = "run_coworker_identity_check_command"
READ_TOOLS = (FIND_TOOL, GET_TOOL, LIST_COMMANDS_TOOL)
WRITE_TOOLS = (UPDATE_TOOL, RUN_COMMAND_TOOL)
