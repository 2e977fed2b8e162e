"""Every audit record the daemon wrote validates against the published
schema (docs/audit-record.schema.json, JSON Schema 2020-12)."""

import json
import pathlib
import sys

import jsonschema

root = pathlib.Path(__file__).resolve().parents[2]
schema = json.loads((root / "docs" / "audit-record.schema.json").read_text())
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)
records = [json.loads(line) for line in pathlib.Path(sys.argv[1]).read_text().splitlines() if line.startswith("{\"audit_version\"")]
events = sorted({r["event"] for r in records})
for record in records:
    errors = sorted(validator.iter_errors(record), key=str)
    if errors:
        print(f"record {record['seq']} does not match the schema: {errors[0].message}")
        sys.exit(1)
if len(records) < 5:
    print(f"only {len(records)} records")
    sys.exit(1)
print(f"{len(records)} records ({', '.join(events)}) match docs/audit-record.schema.json")
