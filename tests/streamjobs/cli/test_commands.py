"""The operator commands on the real services: topics, migrations, config, produce."""

from __future__ import annotations

import json

from sqlalchemy import Engine, inspect, text

from schemas.tables import DELIVERIES_FILLFACTOR, metadata, webhook_deliveries
from streamjobs.settings import Settings
from tests.kafka_support import read_topic
from tests.streamjobs.cli.support import streamjobs

WEBHOOK = '{"webhook_id": "6f1c1a52-3c39-4a0e-9d9b-2f1c8f0f6c11", "event_type": "a", "payload": {}}'


def test_topics_create_makes_every_topic_then_finds_them_all_existing(
    settings: Settings,
) -> None:
    first = streamjobs(settings, "topics", "create")
    second = streamjobs(settings, "topics", "create")
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert "16 created, 0 already existed" in first.stdout
    assert "0 created, 16 already existed" in second.stdout
    assert f"created  {settings.kafka_topic_prefix}webhook.send.dlq" in first.stdout


def test_db_upgrade_twice_then_downgrade_to_base_and_up_again(
    migrated_engine: Engine, settings: Settings
) -> None:
    for _ in range(2):
        done = streamjobs(settings, "db", "upgrade")
        assert done.returncode == 0, done.stderr
        assert "database at revision 0003" in done.stdout
    down = streamjobs(settings, "db", "downgrade", "base")
    assert down.returncode == 0, down.stderr
    assert inspect(migrated_engine).get_table_names() == ["alembic_version"]
    up = streamjobs(settings, "db", "upgrade")
    assert up.returncode == 0, up.stderr
    assert set(inspect(migrated_engine).get_table_names()) == set(metadata.tables) | {
        "alembic_version"
    }


def test_migrations_give_the_delivery_log_the_fillfactor_of_the_table_metadata(
    migrated_engine: Engine,
) -> None:
    with migrated_engine.connect() as connection:
        options = connection.execute(
            text("SELECT reloptions FROM pg_class WHERE relname = 'webhook_deliveries'")
        ).scalar_one()
    assert options == [f"fillfactor={DELIVERIES_FILLFACTOR}"]
    assert webhook_deliveries.dialect_options["postgresql"]["with"] == {
        "fillfactor": DELIVERIES_FILLFACTOR
    }


def test_config_json_shows_where_everything_points_with_secrets_masked(
    settings: Settings,
) -> None:
    done = streamjobs(settings, "config", "--json")
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    brokers = shown["settings"]["KAFKA_BOOTSTRAP_SERVERS"]
    assert brokers["value"] == settings.kafka_bootstrap_servers
    assert brokers["description"] == Settings.model_fields["kafka_bootstrap_servers"].description
    assert ":********@" in shown["settings"]["DATABASE_URL"]["value"]
    assert "streamjobs:streamjobs@" not in done.stdout
    assert (
        shown["jobs"]["webhook"]["topics"][-1] == f"{settings.kafka_topic_prefix}webhook.send.dlq"
    )


def test_config_prints_an_environment_file_with_each_meaning_above_its_value(
    settings: Settings,
) -> None:
    done = streamjobs(settings, "config", RETRY_DELAYS="250ms,90m", CRON_UNKNOWN="x")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    at = lines.index("RETRY_DELAYS=250ms,90m")
    assert lines[at - 1] == f"# {Settings.model_fields['retry_delays'].description}"
    assert "WEBHOOK_TIMEOUT=15s" in lines and "WEBHOOK_ALLOW_PRIVATE_NETWORKS=false" in lines


def test_config_hides_a_password_given_in_the_query_of_the_database_url(
    settings: Settings,
) -> None:
    url = "postgresql://streamjobs@127.0.0.1:54329/x?sslmode=disable&password=hunter2"
    for args in (["config"], ["config", "--json"]):
        done = streamjobs(settings, *args, DATABASE_URL=url)
        assert done.returncode == 0, done.stderr
        assert "hunter2" not in done.stdout
        assert "password=********" in done.stdout


def test_produce_validates_and_publishes_with_the_event_id_header(settings: Settings) -> None:
    assert streamjobs(settings, "topics", "create").returncode == 0
    done = streamjobs(settings, "produce", "webhook.send", "--event-id", "evt-9", stdin=WEBHOOK)
    assert done.returncode == 0, done.stderr
    (record,) = read_topic(settings, f"{settings.kafka_topic_prefix}webhook.send", count=1)
    assert json.loads(record.value or b"")["event_type"] == "a"
    assert record.headers == {"event-id": "evt-9"}


def test_a_bad_event_exits_2_with_one_line(settings: Settings) -> None:
    done = streamjobs(settings, "produce", "webhook.send", '{"webhook_id": 1}')
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "invalid webhook.send event: webhook_id:" in done.stderr


def test_a_bad_argument_exits_2_with_one_line(settings: Settings) -> None:
    for args in (["consume", "nope"], ["consume", "webhook", "--concurrency", "0"], []):
        done = streamjobs(settings, *args)
        assert done.returncode == 2, args
        assert done.stderr.count("\n") == 1, done.stderr


def test_a_malformed_setting_exits_2_naming_the_variable(settings: Settings) -> None:
    done = streamjobs(settings, "config", RETRY_DELAYS="30s,5x")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "RETRY_DELAYS" in done.stderr and "'5x' is not a duration" in done.stderr
