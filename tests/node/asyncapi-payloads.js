// Parses an AsyncAPI document with the official @asyncapi/parser and prints, as JSON, the
// parser's diagnostics and every channel's address with its messages' payload schemas as
// the parsed document resolves them: what a code generator or a validator built on the
// parser would see. Usage: node asyncapi-payloads.js FILE
'use strict';
const fs = require('fs');
const path = require('path');
const { Parser, DiagnosticSeverity } = require('@asyncapi/parser');

// The parser's own annotations (x-parser-schema-id, ...), not part of the contract.
function withoutParserKeys(value) {
  if (Array.isArray(value)) return value.map(withoutParserKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key]) => !key.startsWith('x-parser-'))
      .map(([key, inner]) => [key, withoutParserKeys(inner)]),
  );
}

async function main(file) {
  const source = path.resolve(file);
  const { document, diagnostics } = await new Parser().parse(fs.readFileSync(source, 'utf8'), {
    source,
  });
  const report = {
    diagnostics: diagnostics.map((d) => ({
      severity: DiagnosticSeverity[d.severity],
      code: d.code,
      message: d.message,
      path: d.path.join('/'),
    })),
    channels: {},
  };
  for (const channel of document ? document.channels().all() : []) {
    report.channels[channel.id()] = {
      address: channel.address(),
      messages: Object.fromEntries(
        channel
          .messages()
          .all()
          .map((m) => [m.name(), withoutParserKeys(m.payload().json())]),
      ),
    };
  }
  process.stdout.write(JSON.stringify(report));
}

main(process.argv[2]).catch((error) => {
  console.error(error);
  process.exit(2);
});
