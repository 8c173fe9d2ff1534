// An independent client: the official MCP TypeScript SDK drives our server over stdio.
// Usage: node client.mjs <command> [args...]   (the server command line)
// Prints one JSON object describing what the SDK accepted; the Python test asserts on it.
// The SDK validates structuredContent against each tool's outputSchema (error results included),
// so a schema or body it does not accept makes callTool throw and this script exit non-zero.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";

const [command, ...args] = process.argv.slice(2);
const transport = new StdioClientTransport({ command, args, stderr: "ignore" });
const client = new Client(
  { name: "ts-sdk-test-client", version: "1.0.0" },
  { capabilities: { elicitation: { form: {} } } },
);
const CHECK = 87654309;
const VERIFY_CHECK = 87654310; // Mei Lin Chen's address verification, Submitted in the seed

// The user accepts the server's confirmation question (form-mode elicitation).
const questions = [];
client.setRequestHandler(ElicitRequestSchema, async (request) => {
  questions.push(request.params.message);
  return { action: "accept", content: { Confirm: true } };
});

const out = {};
try {
  await client.connect(transport);
  out.serverName = client.getServerVersion()?.name;
  const tools = await client.listTools();
  out.tools = tools.tools.map((t) => ({
    name: t.name,
    required: t.inputSchema.required ?? [],
    hasOutputSchema: Boolean(t.outputSchema),
    annotations: t.annotations ?? null,
  }));

  const read = await client.callTool({ name: "get_coworker_identity_check", arguments: { Id: CHECK } });
  const record = read.structuredContent.Record;
  out.read = { isError: read.isError ?? false, name: record.Name, number: record.IdentityDocumentNumber };

  const base = {
    Id: CHECK, BusinessId: record.BusinessId, CoworkerId: record.CoworkerId, Name: record.Name,
    IdentityCheckProvider: record.IdentityCheckProvider, IdentityDocumentType: record.IdentityDocumentType,
    AddressDocumentType: record.AddressDocumentType,
  };
  const bad = await client.callTool({
    name: "update_coworker_identity_check",
    arguments: { ...base, IdentityDocumentType: "Passprt", IdentityDocumentExpiryDate: "2035-01-01" },
  });
  out.failing = {
    isError: bad.isError ?? false,
    errorKind: bad.structuredContent?.ErrorKind,
    properties: (bad.structuredContent?.Errors ?? []).map((e) => e.PropertyName).sort(),
    hints: (bad.structuredContent?.Errors ?? []).map((e) => e.Hint ?? null).sort(),
    textStartsWithSummary: bad.content[0].text.startsWith("Failed"),
  };

  const good = await client.callTool({
    name: "update_coworker_identity_check",
    arguments: { ...base, IdentityDocumentExpirationDate: "2035-01-01", ExpectedUpdatedOn: record.UpdatedOn },
  });
  out.succeeding = {
    isError: good.isError ?? false,
    wasSuccessful: good.structuredContent?.WasSuccessful,
    changes: (good.structuredContent?.Changes ?? []).map((c) => c.Field),
  };

  const listed = await client.callTool({ name: "list_coworker_identity_check_commands", arguments: {} });
  const verify = (listed.structuredContent?.Commands ?? []).find((c) => c.Name === "Mark as verified");
  const ran = await client.callTool({
    name: "run_coworker_identity_check_command",
    arguments: { Key: verify?.Key, Ids: [VERIFY_CHECK] },
  });
  out.command = {
    isError: ran.isError ?? false,
    confirmation: ran.structuredContent?.Confirmation,
    asked: questions.length,
    statuses: (ran.structuredContent?.Checks ?? []).map((c) => [c.VerificationStatusBefore, c.VerificationStatus]),
  };
  console.log(JSON.stringify(out));
} catch (err) {
  console.log(JSON.stringify({ ...out, error: String(err && err.message ? err.message : err) }));
  process.exitCode = 1;
} finally {
  await client.close();
}
