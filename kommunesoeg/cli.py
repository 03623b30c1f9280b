"""The `kommunesoeg` command: one click group that mounts each package's commands."""

from __future__ import annotations

import errno

import click

from kommunesoeg.core.errors import KommunesoegError


class _Group(click.Group):
    """Turns domain errors from any subcommand into one clear line and exit code 1, never a
    traceback; so does a file-system error no command foresaw (named with its path)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except KommunesoegError as exc:
            raise click.ClickException(str(exc)) from None
        except BrokenPipeError:
            raise  # output piped into `head`: not an error worth a line
        except OSError as exc:
            raise click.ClickException(_os_error_line(exc)) from None


def _os_error_line(exc: OSError) -> str:
    """One Danish line for an unforeseen OSError: what went wrong and where."""
    where = f"{exc.filename}: " if exc.filename else ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"{where}Disken er fuld; frigør plads og prøv igen"
    if exc.errno == errno.EROFS:
        return f"{where}skrivebeskyttet filsystem; vælg en mappe, der kan skrives i"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"{where}ingen adgang ({exc.strerror})"
    return f"{where}{exc.strerror or exc}"


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

    for module_name in ("indexer.cli", "retriever.cli", "eval.cli", "kommunesoeg.auth",
                        "kommunesoeg.api.cli"):
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
