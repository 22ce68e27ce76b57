#!/bin/sh
# The dbt executable meterr's dbt resource names: the client of a warm dbt process, run by the
# Python that runs Dagster, without site-packages (see dagster_project/dbt_warm.py).
exec "${METERR_DBT_PYTHON:-python3}" -S -I "$(dirname "$0")/dbt_warm.py" client "$@"
