"""`kommunesoeg serve`, `create-api-key`, `revoke-api-key`, `list-api-keys`."""

from __future__ import annotations

import os
from pathlib import Path

import click

from indexer.cli import IndexLocation
from kommunesoeg.api.keys import ApiKeys, default_keys_path
from kommunesoeg.core.config import CONFIG_ENV, load_config

index_option = click.option(
    "--index", "index_dir", type=IndexLocation(file_okay=True), envvar="KOMMUNESOEG_INDEX",
    default="index", show_default=True,
    help="Indeksmappe eller PostgreSQL-database (postgresql://...) (eller $KOMMUNESOEG_INDEX).",
)
keys_option = click.option(
    "--keys-file", type=click.Path(path_type=Path, dir_okay=False), default=None,
    help="Nøglefil (standard: $KOMMUNESOEG_API_KEYS eller api_keys.sqlite i indeksmappen).",
)


@click.command("serve")
@index_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Adresse at lytte på.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--corpus", "corpus_dir", type=click.Path(path_type=Path, file_okay=False),
              envvar="KOMMUNESOEG_CORPUS", default=Path("corpus"), show_default=True,
              help="Korpusmappen (sidebilleder; eller $KOMMUNESOEG_CORPUS).")
@keys_option
@click.option("--cors-origin", "cors_origins", multiple=True,
              help="Tilladt CORS-oprindelse, fx https://intra.kommune.dk (kan gentages).")
@click.option("--rate-limit", default="300/minute", show_default=True,
              help="Pr. API-nøgle eller pr. klientadresse uden nøgle, fx 60/minute; 0 = fra.")
@click.option("--max-body", "max_body_kb", type=click.IntRange(1, 1024 * 1024), default=4096,
              show_default=True, help="Største forespørgsel i KiB.")
@click.option("--config-file", type=click.Path(path_type=Path, dir_okay=False),
              envvar=CONFIG_ENV, help="TOML-fil med vægte og tærskler.")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="uvicorn-processer (hver indlæser indekset).")
@click.option("--proxy-headers/--no-proxy-headers", default=False,
              help="Stol på X-Forwarded-For fra --forwarded-allow-ips (bag en reverse proxy).")
@click.option("--forwarded-allow-ips", default="127.0.0.1", show_default=True)
@click.option("--root-path", default="", help="Sti-præfiks bag en reverse proxy, fx /api.")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]),
              default="info", show_default=True)
def serve(index_dir: Path, host: str, port: int, corpus_dir: Path, keys_file: Path | None,
          cors_origins: tuple[str, ...], rate_limit: str, max_body_kb: int,
          config_file: Path | None, workers: int, proxy_headers: bool,
          forwarded_allow_ips: str, root_path: str, log_level: str) -> None:
    """Start HTTP-API'et (FastAPI på uvicorn) over indekset.

    \b
    Eksempler:
      kommunesoeg serve --index index --port 8000
      curl 'http://127.0.0.1:8000/search?q=klimamad&k=3'
    """
    import uvicorn

    from kommunesoeg.api import logs

    load_config(config_file)  # a bad file is one line now, not at the first request
    os.environ.update({
        "KOMMUNESOEG_API_INDEX": index_dir if isinstance(index_dir, str)
        else str(index_dir.resolve()),
        "KOMMUNESOEG_API_CORPUS": str(corpus_dir.resolve()),
        "KOMMUNESOEG_API_KEYS_FILE": str(keys_file.resolve()) if keys_file else "",
        "KOMMUNESOEG_API_CORS": "\n".join(cors_origins),
        "KOMMUNESOEG_API_RATE_LIMIT": rate_limit,
        "KOMMUNESOEG_API_MAX_BODY": str(max_body_kb * 1024),
        "KOMMUNESOEG_API_CONFIG": str(config_file.resolve()) if config_file else "",
        "KOMMUNESOEG_API_LOG_LEVEL": log_level,
    })
    logs.configure(log_level)
    uvicorn.run("kommunesoeg.api.cli:app_from_env", factory=True, host=host, port=port,
                workers=workers, log_config=None, access_log=False, proxy_headers=proxy_headers,
                forwarded_allow_ips=forwarded_allow_ips, root_path=root_path,
                log_level=log_level)


def app_from_env():
    """The app as `serve` configured it (uvicorn factory; also for `uvicorn --factory`)."""
    from kommunesoeg.api import logs
    from kommunesoeg.api.app import Settings, create_app
    from retriever.location import index_location

    env = os.environ
    logs.configure(env.get("KOMMUNESOEG_API_LOG_LEVEL", "info"))
    config_file = env.get("KOMMUNESOEG_API_CONFIG") or None
    return create_app(Settings(
        index_dir=index_location(env.get("KOMMUNESOEG_API_INDEX")
                                 or env.get("KOMMUNESOEG_INDEX") or "index"),
        corpus_dir=Path(env.get("KOMMUNESOEG_API_CORPUS") or env.get("KOMMUNESOEG_CORPUS")
                        or "corpus"),
        keys_file=Path(env["KOMMUNESOEG_API_KEYS_FILE"])
        if env.get("KOMMUNESOEG_API_KEYS_FILE") else None,
        cors_origins=[o for o in env.get("KOMMUNESOEG_API_CORS", "").splitlines() if o],
        rate_limit=env.get("KOMMUNESOEG_API_RATE_LIMIT", "300/minute"),
        max_body_bytes=int(env.get("KOMMUNESOEG_API_MAX_BODY") or 4 * 1024 * 1024),
        config=load_config(Path(config_file) if config_file else None),
    ))


@click.command("create-api-key")
@click.option("--user", required=True, help="Den interne bruger, nøglen tilhører.")
@index_option
@keys_option
def create_api_key(user: str, index_dir: Path, keys_file: Path | None) -> None:
    """Lav en API-nøgle til en intern bruger (vises én gang; kun hashen gemmes).

    \b
    Eksempel:
      kommunesoeg create-api-key --user anna
      curl -H "Authorization: Bearer ks_..." 'http://127.0.0.1:8000/search?q=lukket'
    """
    path = keys_file or default_keys_path(index_dir)
    key = ApiKeys(path).create(user)
    click.echo(key)
    click.echo(f"Gemt som hash i {path}; nøglen vises ikke igen.", err=True)


@click.command("revoke-api-key")
@click.option("--user", default=None, help="Tilbagekald alle brugerens nøgler.")
@click.option("--key-id", default=None, help="Tilbagekald én nøgle (de 8 tegn efter ks_).")
@index_option
@keys_option
def revoke_api_key(user: str | None, key_id: str | None, index_dir: Path,
                   keys_file: Path | None) -> None:
    """Tilbagekald API-nøgler (virker straks, også på en kørende server)."""
    if bool(user) == bool(key_id):
        raise click.UsageError("Angiv præcis én af --user og --key-id.")
    n = ApiKeys(keys_file or default_keys_path(index_dir)).revoke(user=user, key_id=key_id)
    click.echo(f"{n} nøgle(r) tilbagekaldt.")


@click.command("list-api-keys")
@index_option
@keys_option
def list_api_keys(index_dir: Path, keys_file: Path | None) -> None:
    """Vis API-nøglerne (id, bruger, oprettet, tilbagekaldt) - aldrig selve nøglerne."""
    for row in ApiKeys(keys_file or default_keys_path(index_dir)).rows():
        click.echo(f"{row.key_id}  {row.user}  {row.created}  "
                   f"{'tilbagekaldt ' + row.revoked if row.revoked else 'aktiv'}")


COMMANDS = [serve, create_api_key, revoke_api_key, list_api_keys]
