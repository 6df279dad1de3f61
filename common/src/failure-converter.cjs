// The failure converter of every Keelson client, worker and workflow bundle (common/src/temporal.ts
// names this file). With `encodeCommonAttributes`, a failure's message and stack trace travel in an
// encoded payload that the payload codec encrypts like any other, so Temporal's history holds
// "Encoded failure" and ciphertext instead of error text and source paths.
//
// CommonJS on purpose: the SDK `require`s it by path in each process (including test processes
// that cannot load TypeScript that way) and bundles it into the workflow code.
const { DefaultFailureConverter } = require('@temporalio/common');

exports.failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
