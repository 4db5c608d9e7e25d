"""`ndnx data <command>`: each family's data utilities, registered where their data live.

A family's data module registers its commands with `@data_command(name, help)` on a function
`add_arguments(parser)` that returns the function running the command:

    @data_command("synth-v1", "write a synthetic V1 region in the Antolík et al. 2016 file format")
    def synth_v1(parser):
        parser.add_argument("--out", required=True, help="directory the region is written under")
        def run(args):
            ...
            return 0
        return run

`ndnx data` lists what `commands()` finds in the modules of `FAMILY_MODULES`; a new family adds
its module there. The command line stays free of any one family's data.
"""

import importlib

__all__ = ["data_command", "commands", "FAMILY_MODULES"]

#: The data modules that register commands (imported when `ndnx data` builds its parser).
FAMILY_MODULES = ("ndnx.data.synthetic_v1",)

_COMMANDS = {}


def data_command(name, help):
    """Register `add_arguments(parser) -> run(args)` as `ndnx data <name>`."""

    def register(add_arguments):
        if name in _COMMANDS and _COMMANDS[name][1] is not add_arguments:
            raise ValueError(f"data_command: {name!r} is registered twice")
        _COMMANDS[name] = (help, add_arguments)
        return add_arguments

    return register


def commands():
    """{name: (help, add_arguments)} of every registered data command."""
    for module in FAMILY_MODULES:
        importlib.import_module(module)
    return dict(sorted(_COMMANDS.items()))
