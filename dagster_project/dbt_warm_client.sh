#!/bin/sh
# The dbt executable meterr's dbt resource names: the client of a warm dbt process, started with
# the Python that runs Dagster (dagster_project/dbt_warm.py explains).
exec "${METERR_DBT_PYTHON:-python3}" -S -I "$(dirname "$0")/dbt_warm_client.py" "$@"
