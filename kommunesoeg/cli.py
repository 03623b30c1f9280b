"""The `kommunesoeg` command: one click group that mounts each package's commands."""

from __future__ import annotations

import click

from indexer.errors import KommunesoegError


class _Group(click.Group):
    """Turns domain errors into one clear line and a non-zero exit, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except KommunesoegError as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=_Group)
@click.version_option(package_name="kommunesoeg")
def cli() -> None:
    """Kommunesøg: søg og få svar med kildehenvisninger i kommunale dagsordener og referater.

    \b
    Eksempler:
      kommunesoeg index corpus/
      kommunesoeg ask "Hvad blev besluttet om Opgang til Opgang?"
      kommunesoeg search EMN-2023-000692 --json
    """


def _mount() -> None:
    # Each package owns its commands; a package whose commands are not written yet
    # simply contributes none.
    import importlib

    for module_name in ("indexer.cli", "retriever.cli", "eval.cli", "kommunesoeg.auth"):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        for command in getattr(module, "COMMANDS", []):
            cli.add_command(command)


_mount()


def main() -> None:
    cli()
