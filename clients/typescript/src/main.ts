// A client an integrator would write against Convene with types generated from
// openapi/openapi.json (openapi-typescript + openapi-fetch), compiled with `tsc --strict`:
// signs in, creates and patches an organisation, pages a list with its cursor, syncs with
// `updated_since` and follows the change feed, reads a record's history and a report. Any casts or workarounds needed
// here would be defects of the document. Run by scripts/client-check.

import createClient from "openapi-fetch";
import type { components, paths } from "./schema.js";

type Problem = components["schemas"]["Problem"];

function env(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === "") {
    throw new Error(`set ${name}`);
  }
  return value;
}

function fail(step: string, status: number, problem?: Problem): never {
  const detail = problem ? `${problem.title}: ${problem.detail}` : "no problem document";
  throw new Error(`${step} answered ${status} (${detail})`);
}

function check(condition: boolean, what: string): asserts condition {
  if (!condition) {
    throw new Error(`expected ${what}`);
  }
}

// Every operation answers JSON (problems as application/problem+json); some also offer CSV or
// SVG, which this client does not ask for.
const client = createClient<paths, `${string}/${string}json`>({ baseUrl: env("CONVENE_URL") });

// Sign in, then send the access token with every request.
const login = await client.POST("/api/v1/auth/login", {
  body: { email: env("CONVENE_EMAIL"), password: env("CONVENE_PASSWORD") },
});
if (!login.data) fail("sign in", login.response.status, login.error);
const token = login.data.access_token;
client.use({
  onRequest({ request }) {
    request.headers.set("Authorization", `Bearer ${token}`);
    return request;
  },
});

// Create two organisations (a list of one page of one entry each needs two).
const run = Date.now();
const created: string[] = [];
let etag = "";
for (const name of [`Client Check ${run} A`, `Client Check ${run} B`]) {
  const answer = await client.POST("/api/v1/organisations", {
    body: { name, kind: "national_charity", regions: ["north_west"] },
  });
  if (!answer.data) fail("create an organisation", answer.response.status, answer.error);
  created.push(answer.data.id);
  etag = answer.response.headers.get("ETag") ?? "";
}
const [first, second] = created;
check(first !== undefined && second !== undefined && etag !== "", "two organisations and an ETag");
const before = await client.GET("/api/v1/organisations/{id}", {
  params: { path: { id: first } },
});
if (!before.data) fail("read the organisation", before.response.status, before.error);
const since = before.data.created_at;

// Patch the second one, naming the version it changes.
const patched = await client.PATCH("/api/v1/organisations/{id}", {
  params: { path: { id: second }, header: { "If-Match": etag } },
  body: { website: "https://client-check.example.org", description: null },
});
if (!patched.data) fail("patch the organisation", patched.response.status, patched.error);
check(patched.data.website === "https://client-check.example.org", "the patched website");

// Page through the list one entry at a time, following the cursor.
const seen = new Set<string>();
let cursor: string | undefined;
for (let page = 0; page < 1000; page++) {
  const answer = await client.GET("/api/v1/organisations", {
    params: { query: cursor === undefined ? { limit: 1 } : { limit: 1, cursor } },
  });
  if (!answer.data) fail("list organisations", answer.response.status, answer.error);
  for (const entry of answer.data.data) {
    seen.add(entry.id);
  }
  if (answer.data.next_cursor == null) break;
  cursor = answer.data.next_cursor;
}
check(seen.has(first) && seen.has(second), "both organisations in the paged list");

// Sync: what changed since the first was created, tombstones included.
// (A filter on membership status is listed in full: with updated_since it is a 400, as the
// calendar moves statuses; the change feed below tells of those moves.)
const members = await client.GET("/api/v1/organisations", {
  params: { query: { membership_status: ["active", "pending"] } },
});
if (!members.data) fail("list members", members.response.status, members.error);
const all = await client.GET("/api/v1/organisations", {
  params: { query: { updated_since: since, include_deleted: true } },
});
if (!all.data) fail("sync organisations", all.response.status, all.error);
const changed = all.data.data.map((entry) =>
  "name" in entry ? entry.name : `deleted ${entry.deleted_at}`,
);
check(changed.length >= 1, "a change since the first organisation was made");

// The change feed from its start: both organisations' creation, in commit order, then
// nothing more from the position it gives back.
const feed = await client.GET("/api/v1/changes", {
  params: { query: { after: "0", types: ["organisation."], limit: 500 } },
});
if (!feed.data) fail("read the change feed", feed.response.status, feed.error);
const createdIds = feed.data.data
  .filter((event) => event.type === "organisation.created")
  .map((event) => event.entity_id);
check(createdIds.includes(first) && createdIds.includes(second), "both creations in the feed");
const caughtUp = await client.GET("/api/v1/changes", {
  params: { query: { after: feed.data.next_position, types: ["organisation."] } },
});
if (!caughtUp.data) fail("follow the change feed", caughtUp.response.status, caughtUp.error);
check(caughtUp.data.data.length === 0, "nothing after the feed's end");

// The history of the patch: each changed field, before and after.
const history = await client.GET("/api/v1/organisations/{id}/history", {
  params: { path: { id: second } },
});
if (!history.data) fail("read the history", history.response.status, history.error);
const update = history.data.data.find((event) => event.action === "update");
check(update !== undefined, "the update in the history");
const website = update.changes["website"];
check(website !== undefined && website.after === "https://client-check.example.org", "the website's change");

// A report.
const report = await client.GET("/api/v1/reports/composition", {
  params: { query: { dimension: ["region"], disclosure: "internal" } },
});
if (!report.data) fail("read the composition", report.response.status, report.error);
check(report.data.dimensions.length === 1, "one dimension reported");

console.log(
  `client check passed: ${seen.size} organisations paged, ${changed.length} changed since ${since}, ` +
    `report as of ${report.data.as_of}`,
);
