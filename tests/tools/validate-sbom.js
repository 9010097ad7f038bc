// Validates kiln's SBOMs against their formats' JSON schemas: CycloneDX 1.5 with the
// CycloneDX project's own validator and schemas (@cyclonedx/cyclonedx-library, strict: no
// property the schema does not define), SPDX 2.3 with Ajv against tests/data/schemas/
// spdx-2.3.schema.json. Modules come from scripts/deps.sh's prefix (NODE_PATH).
// usage: node validate-sbom.js spdx|cyclonedx FILE...   exit 0 valid, 1 invalid, 2 usage
'use strict';
const fs = require('fs');
const path = require('path');

async function main(kind, files) {
  let check;
  if (kind === 'cyclonedx') {
    const { Spec, Validation } = require('@cyclonedx/cyclonedx-library');
    const v = new Validation.JsonStrictValidator(Spec.Version.v1dot5);
    check = async (text) => v.validate(text);
  } else if (kind === 'spdx') {
    const Ajv = require('ajv');
    const addFormats = require('ajv-formats');
    const ajv = new Ajv({ allErrors: true, strict: true });
    addFormats(ajv);
    const schema = JSON.parse(fs.readFileSync(path.join(__dirname, '../data/schemas/spdx-2.3.schema.json'), 'utf8'));
    const validate = ajv.compile(schema);
    check = async (text) => (validate(JSON.parse(text)) ? null : validate.errors);
  } else {
    process.stderr.write('usage: node validate-sbom.js spdx|cyclonedx FILE...\n');
    return 2;
  }
  let rc = 0;
  for (const f of files) {
    const errors = await check(fs.readFileSync(f, 'utf8'));
    if (errors) {
      process.stderr.write(`${f}: not valid ${kind}: ${JSON.stringify(errors, null, 1)}\n`);
      rc = 1;
    } else process.stdout.write(`${f}: valid ${kind === 'spdx' ? 'SPDX 2.3' : 'CycloneDX 1.5'}\n`);
  }
  return rc;
}

main(process.argv[2], process.argv.slice(3)).then((rc) => process.exit(rc), (e) => {
  process.stderr.write(`validate-sbom: ${e && e.message ? e.message : e}\n`);
  process.exit(2);
});
