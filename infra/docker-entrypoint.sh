#!/bin/sh
# Secrets reach stormborn and Prefect as files (compose `secrets:`, Kubernetes secret volumes), never
# as values in compose.yaml or the image: each file under /run/secrets whose name is a STORMBORN_*,
# PREFECT_* or AWS_* variable becomes that variable, then the command runs.
set -eu
for file in /run/secrets/STORMBORN_* /run/secrets/PREFECT_* /run/secrets/AWS_*; do
  [ -f "$file" ] || continue
  name=$(basename "$file")
  value=$(cat "$file")
  export "$name=$value"
done
exec "$@"
