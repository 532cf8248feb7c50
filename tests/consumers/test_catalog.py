"""The job catalog: every name loads a job of that name."""

from __future__ import annotations

import pytest

from consumers.catalog import CATALOG, JOB_NAMES, jobs_named, load_job


@pytest.mark.parametrize("name", JOB_NAMES)
def test_each_catalog_name_loads_a_job_of_that_name(name: str) -> None:
    job = load_job(name)
    assert job.name == name
    assert job.topic.job == name


@pytest.mark.parametrize("name", JOB_NAMES)
def test_the_catalog_states_each_jobs_own_concurrency(name: str) -> None:
    assert load_job(name).concurrency == CATALOG[name].concurrency >= 1


def test_all_names_every_job_once() -> None:
    assert [job.name for job in jobs_named("all")] == list(JOB_NAMES)


def test_an_unknown_name_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        jobs_named("nope")
