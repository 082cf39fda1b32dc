'use strict';

// A peer implementation of two Convene read endpoints, for `scripts/bench` only:
//   GET /api/v1/organisations?kind=…&region=…&limit=…   (first page, name order)
//   GET /api/v1/organisations/{id}
// It reads Convene's PostgreSQL schema, authenticates like Convene (HS256 JWT, then the
// session in the database) and answers with the same JSON bytes.

const cluster = require('node:cluster');
const crypto = require('node:crypto');

const WORKERS = positiveInt('WORKERS', 2);

if (cluster.isPrimary && WORKERS > 1) {
  let stopping = false;
  const stop = (code) => {
    stopping = true;
    for (const worker of Object.values(cluster.workers)) worker.kill('SIGTERM');
    if (code) process.exitCode = code;
  };
  const fork = () => {
    const worker = cluster.fork();
    worker.once('listening', () => { worker.started = true; });
  };
  for (let i = 0; i < WORKERS; i++) fork();
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    if (!worker.started) {
      // It never listened (bad configuration, port taken): starting another would fail too.
      console.error(`worker ${worker.process.pid} failed to start (${signal || code}); stopping`);
      stop(code || 1);
      return;
    }
    console.error(`worker ${worker.process.pid} exited (${signal || code}); starting another`);
    fork();
  });
  process.on('SIGTERM', () => stop(0));
  process.on('SIGINT', () => stop(0));
} else {
  startWorker().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}

function positiveInt(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    console.error(`${name} must be a whole number of at least 1`);
    process.exit(2);
  }
  return value;
}

async function startWorker() {
  const Fastify = require('fastify');
  const jwt = require('jsonwebtoken');
  const pg = require('pg');

  // ---- Configuration: the same variables and defaults Convene reads (src/config.rs). ----
  const config = readConfig();

  // Dates and timestamps as PostgreSQL writes them: formatted here exactly as Convene does.
  pg.types.setTypeParser(1082, (text) => text); // date
  pg.types.setTypeParser(1114, (text) => text); // timestamp without time zone

  const pool = new pg.Pool({ connectionString: config.databaseUrl, max: config.pool });
  pool.on('error', (error) => console.error('idle PostgreSQL connection failed:', error.message));

  // ---- Authentication (src/auth/guard.rs, tokens.rs, users/sessions.rs). ----
  const MAX_CREDENTIAL_LENGTH = 4096;
  const LEEWAY_SECONDS = 10;
  const ROLES = new Set(['admin', 'staff', 'viewer']);
  const kidOf = (secret) =>
    crypto.createHash('sha256').update(`convene-kid:${secret}`).digest('hex').slice(0, 16);
  const currentKey = { kid: kidOf(config.jwtSecret), secret: config.jwtSecret };
  const previousKey = config.previousSecret
    ? { kid: kidOf(config.previousSecret), secret: config.previousSecret, until: config.previousUntil }
    : null;
  const verifyOptions = {
    algorithms: ['HS256'],
    issuer: config.issuer,
    audience: config.audience,
    clockTolerance: LEEWAY_SECONDS,
  };

  const SESSION_SQL = {
    name: 'live_session',
    text: `SELECT users.id, users.role, sessions.expires_at
             FROM sessions INNER JOIN users ON sessions.user_id = users.id
            WHERE sessions.id = $1 AND sessions.revoked_at IS NULL
              AND sessions.expires_at > $2 AND users.active = $3
            LIMIT 1`,
  };

  /** The claims of a valid access token, or null whatever the reason. */
  function verifyAccessToken(token) {
    const dot = token.indexOf('.');
    if (dot < 1) return null;
    let header;
    try {
      header = JSON.parse(Buffer.from(token.slice(0, dot), 'base64url').toString('utf8'));
    } catch {
      return null;
    }
    if (header === null || header.alg !== 'HS256' || typeof header.kid !== 'string') return null;
    let key;
    if (header.kid === currentKey.kid) key = currentKey;
    else if (previousKey && header.kid === previousKey.kid && Date.now() < previousKey.until) key = previousKey;
    else return null;
    let claims;
    try {
      claims = jwt.verify(token, key.secret, verifyOptions);
    } catch {
      return null;
    }
    // Every claim Convene's `Claims` requires, with its type; `exp` is required.
    if (
      typeof claims.iss !== 'string' || typeof claims.aud !== 'string' ||
      typeof claims.sub !== 'string' || typeof claims.sid !== 'string' ||
      typeof claims.jti !== 'string' || !Number.isInteger(claims.iat) ||
      !Number.isInteger(claims.exp) || !ROLES.has(claims.role) || claims.typ !== 'access'
    ) {
      return null;
    }
    return claims;
  }

  /** The signed-in user, or a 401 sent and null returned. */
  async function authenticate(request, reply) {
    const value = request.headers.authorization;
    if (value === undefined) {
      unauthorized(reply, 'this operation needs credentials: Authorization: Bearer <access token or API key>');
      return null;
    }
    const space = value.indexOf(' ');
    const credential = space < 0 ? '' : value.slice(space + 1).trim();
    if (
      space < 0 || value.slice(0, space).toLowerCase() !== 'bearer' ||
      credential === '' || credential.length > MAX_CREDENTIAL_LENGTH
    ) {
      unauthorized(reply, INVALID_CREDENTIAL);
      return null;
    }
    const claims = verifyAccessToken(credential);
    if (claims === null) {
      unauthorized(reply, INVALID_CREDENTIAL);
      return null;
    }
    // The session decides, not the token: sign-out, deactivation and role changes apply.
    const { rows } = await pool.query({ ...SESSION_SQL, values: [claims.sid, utcNow(), true] });
    if (rows.length === 0 || rows[0].id !== claims.sub) {
      unauthorized(reply, INVALID_CREDENTIAL);
      return null;
    }
    return { id: rows[0].id, role: rows[0].role, sessionId: claims.sid };
  }

  const INVALID_CREDENTIAL = 'the bearer token or API key is invalid, expired or revoked';

  function unauthorized(reply, detail) {
    reply.header('www-authenticate', 'Bearer realm="convene"');
    problem(reply, 401, 'unauthorized', 'Unauthorized', detail);
  }

  function problem(reply, status, slug, title, detail) {
    reply
      .code(status)
      .type('application/problem+json')
      // A Buffer, so Fastify sends the content type as set (no `; charset=utf-8`).
      .send(Buffer.from(JSON.stringify({ type: `/problems/${slug}`, title, status, detail, instance: reply.request.url.split('?')[0] })));
  }

  // ---- Reading organisations (src/domain/organisations/store.rs). ----
  const ORG_COLUMNS = `organisations.id, organisations.name, organisations.name_key,
    organisations.kind, organisations.size_band, organisations.charity_number,
    organisations.company_number, organisations.website, organisations.email,
    organisations.phone, organisations.postcode, organisations.description,
    organisations.geography_scope, organisations.leadership_reply_status,
    organisations.mission_reply_status, organisations.lived_experience_led,
    organisations.version, organisations.created_at, organisations.updated_at`;

  // The first page in name order (name_key, then id), one row more than the limit to tell
  // whether a next page follows. Set filters are correlated EXISTS, as Convene writes them.
  const LIST_SQL = {
    name: 'list_organisations',
    text: `SELECT ${ORG_COLUMNS} FROM organisations
            WHERE organisations.deleted_at IS NULL
              AND ($1::text[] IS NULL OR organisations.kind = ANY($1))
              AND ($2::text[] IS NULL OR EXISTS (
                    SELECT 1 FROM organisation_regions
                     WHERE organisation_regions.organisation_id = organisations.id
                       AND organisation_regions.region = ANY($2)))
            ORDER BY organisations.name_key ASC, organisations.id ASC
            LIMIT $3`,
  };
  // Two statements for the plan's sake: with kind and region, the common case, the
  // planner sees plain conditions rather than `$1 IS NULL OR …`.
  const LIST_KIND_REGION_SQL = {
    name: 'list_organisations_kind_region',
    text: `SELECT ${ORG_COLUMNS} FROM organisations
            WHERE organisations.deleted_at IS NULL
              AND organisations.kind = ANY($1)
              AND EXISTS (
                    SELECT 1 FROM organisation_regions
                     WHERE organisation_regions.organisation_id = organisations.id
                       AND organisation_regions.region = ANY($2))
            ORDER BY organisations.name_key ASC, organisations.id ASC
            LIMIT $3`,
  };

  const FIND_SQL = {
    name: 'find_organisation',
    text: `SELECT ${ORG_COLUMNS} FROM organisations
            WHERE organisations.id = $1 AND organisations.deleted_at IS NULL`,
  };

  // Every set of some organisations (memberships with their periods and withdrawals,
  // regions, expertise, communities) in one statement, as Convene's `SetFields::load`.
  const SETS_SQL = {
    name: 'organisation_sets',
    text: `SELECT organisation_id, 'm' AS set, tier AS text, NULL::text AS code,
                  applied_on AS from_on, joined_on AS to_on
             FROM memberships WHERE organisation_id = ANY($1)
           UNION ALL
           SELECT organisation_id, 'p', NULL, NULL, start_on, end_on
             FROM membership_periods WHERE organisation_id = ANY($1)
           UNION ALL
           SELECT organisation_id, 'w', NULL, NULL, withdrawn_on, reinstated_on
             FROM membership_withdrawals WHERE organisation_id = ANY($1)
           UNION ALL
           SELECT organisation_id, 'r', region, NULL, NULL, NULL
             FROM organisation_regions WHERE organisation_id = ANY($1)
           UNION ALL
           SELECT organisation_id, 'e', expertise_code, NULL, NULL, NULL
             FROM organisation_expertise WHERE organisation_id = ANY($1)
           UNION ALL
           SELECT organisation_id, 'c', area, community_code, NULL, NULL
             FROM organisation_communities WHERE organisation_id = ANY($1)`,
  };

  const KINDS = ['national_charity', 'local_charity', 'grassroots_group', 'academic',
    'statutory_body', 'professional_body', 'social_enterprise', 'other'];
  const REGIONS = ['north_east', 'north_west', 'yorkshire_humber', 'east_midlands',
    'west_midlands', 'east', 'london', 'south_east', 'south_west', 'wales'];
  const REGION_ORDER = new Map(REGIONS.map((region, index) => [region, index]));
  const byRegion = (a, b) => REGION_ORDER.get(a) - REGION_ORDER.get(b);
  const byBytes = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

  /** Sets of `ids`, keyed by organisation id. */
  async function loadSets(ids) {
    const sets = new Map();
    if (ids.length === 0) return sets;
    const { rows } = await pool.query({ ...SETS_SQL, values: [ids] });
    for (const id of ids) {
      sets.set(id, { membership: null, periods: [], withdrawals: [], regions: [], expertise: [], leadership: [], mission: [] });
    }
    for (const row of rows) {
      const s = sets.get(row.organisation_id);
      switch (row.set) {
        case 'm': s.membership = { tier: row.text, appliedOn: row.from_on, joinedOn: row.to_on }; break;
        case 'p': s.periods.push({ start: row.from_on, end: row.to_on }); break;
        case 'w': s.withdrawals.push({ from: row.from_on, until: row.to_on }); break;
        case 'r': s.regions.push(row.text); break;
        case 'e': s.expertise.push(row.text); break;
        case 'c': (row.text === 'leadership' ? s.leadership : s.mission).push(row.code); break;
      }
    }
    return sets;
  }

  // ---- Membership on a day (src/domain/membership/mod.rs `status_on`). ----
  // Dates are 'YYYY-MM-DD' strings, which compare like the days they name.

  /** Today (UTC) and the earliest period end still in grace today. */
  function membershipDay() {
    const now = new Date();
    const today = now.toISOString().slice(0, 10);
    const earliest = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - config.graceDays));
    return { today, earliestInGrace: earliest.toISOString().slice(0, 10) };
  }

  function membershipSummary(s, day) {
    const m = s.membership;
    if (m === null) return null;
    const on = day.today;
    let status = null;
    for (const w of s.withdrawals) {
      if (w.from <= on && (w.until === null || w.until > on)) {
        status = 'withdrawn';
        break;
      }
    }
    // Periods never overlap: the one covering the day is the first in start order.
    s.periods.sort((a, b) => byBytes(a.start, b.start));
    let current = null;
    for (const p of s.periods) {
      if (p.start <= on && on <= p.end) {
        current = p;
        break;
      }
    }
    if (status === null) {
      if (current !== null) status = 'current';
      else {
        let lastEnded = null;
        for (const p of s.periods) if (p.end < on && (lastEnded === null || p.end > lastEnded)) lastEnded = p.end;
        if (lastEnded !== null) status = lastEnded >= day.earliestInGrace ? 'grace' : 'lapsed';
        else if (m.appliedOn <= on) status = 'pending';
        else return null; // before the application
      }
    }
    return {
      tier: m.tier,
      status,
      joined_on: m.joinedOn,
      current_period: current === null ? null : { start_on: current.start, end_on: current.end },
    };
  }

  /** `2026-03-31 10:15:00.1234` (PostgreSQL) as `2026-03-31T10:15:00.123400Z` (Convene). */
  function timestamp(text) {
    const dot = text.indexOf('.', 19);
    const date = text.slice(0, 10);
    const time = text.slice(11, 19);
    const fraction = dot < 0 ? '000000' : text.slice(dot + 1).padEnd(6, '0');
    return `${date}T${time}.${fraction}Z`;
  }

  function organisationResponse(row, s, day) {
    return {
      id: row.id,
      name: row.name,
      kind: row.kind,
      size_band: row.size_band,
      charity_number: row.charity_number,
      company_number: row.company_number,
      website: row.website,
      email: row.email,
      phone: row.phone,
      postcode: row.postcode,
      description: row.description,
      geography_scope: row.geography_scope,
      regions: s.regions.sort(byRegion),
      expertise: s.expertise.sort(byBytes),
      leadership: { reply_status: row.leadership_reply_status, communities: s.leadership.sort(byBytes) },
      mission: { reply_status: row.mission_reply_status, communities: s.mission.sort(byBytes) },
      lived_experience_led: row.lived_experience_led,
      created_at: timestamp(row.created_at),
      updated_at: timestamp(row.updated_at),
      deleted_at: null,
      membership: membershipSummary(s, day),
    };
  }

  // ---- JSON: response schemas, so fast-json-stringify writes the fields in this order. ----
  const nullableString = { type: ['string', 'null'] };
  const strings = { type: 'array', items: { type: 'string' } };
  const communityReply = {
    type: 'object',
    properties: { reply_status: { type: 'string' }, communities: strings },
    required: ['reply_status', 'communities'],
  };
  const period = {
    type: 'object',
    properties: { start_on: { type: 'string' }, end_on: { type: 'string' } },
    required: ['start_on', 'end_on'],
  };
  const organisationSchema = {
    type: 'object',
    properties: {
      id: { type: 'string' },
      name: { type: 'string' },
      kind: { type: 'string' },
      size_band: nullableString,
      charity_number: nullableString,
      company_number: nullableString,
      website: nullableString,
      email: nullableString,
      phone: nullableString,
      postcode: nullableString,
      description: nullableString,
      geography_scope: nullableString,
      regions: strings,
      expertise: strings,
      leadership: communityReply,
      mission: communityReply,
      lived_experience_led: { type: ['boolean', 'null'] },
      created_at: { type: 'string' },
      updated_at: { type: 'string' },
      deleted_at: { type: 'null' },
      membership: {
        type: ['object', 'null'],
        properties: {
          tier: { type: 'string' },
          status: { type: 'string' },
          joined_on: nullableString,
          current_period: { ...period, type: ['object', 'null'] },
        },
        required: ['tier', 'status', 'joined_on', 'current_period'],
      },
    },
    required: ['id', 'name', 'kind', 'size_band', 'charity_number', 'company_number', 'website',
      'email', 'phone', 'postcode', 'description', 'geography_scope', 'regions', 'expertise',
      'leadership', 'mission', 'lived_experience_led', 'created_at', 'updated_at', 'deleted_at',
      'membership'],
  };
  const listSchema = {
    type: 'object',
    properties: {
      data: { type: 'array', items: organisationSchema },
      next_cursor: nullableString,
    },
    required: ['data', 'next_cursor'],
  };

  // ---- HTTP. ----
  const app = Fastify({ logger: false });

  // Fastify writes `application/json; charset=utf-8`; Convene (actix) sends `application/json`.
  const plainJson = (request, reply, payload, done) => {
    if (reply.statusCode === 200) reply.header('content-type', 'application/json');
    done(null, payload);
  };

  const LIST_PARAMS = new Set(['kind', 'region', 'limit']);
  const MAX_LIMIT = 500;
  const DEFAULT_LIMIT = 50;
  const asList = (value) => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

  app.get('/api/v1/organisations', { schema: { response: { 200: listSchema } }, onSend: plainJson }, async (request, reply) => {
    // Credentials before the query, as Convene's guard runs before its handler.
    const user = await authenticate(request, reply);
    if (user === null) return reply;

    const query = request.query;
    const errors = [];
    for (const name of Object.keys(query)) {
      if (!LIST_PARAMS.has(name)) errors.push(`${name}: is not a parameter of this list`);
    }
    const kinds = asList(query.kind);
    const regions = asList(query.region);
    for (const kind of kinds) if (!KINDS.includes(kind)) errors.push(`kind: ${JSON.stringify(kind)}: must be one of: ${KINDS.join(', ')}`);
    for (const region of regions) if (!REGIONS.includes(region)) errors.push(`region: ${JSON.stringify(region)}: must be one of: ${REGIONS.join(', ')}`);
    let limit = DEFAULT_LIMIT;
    if (query.limit !== undefined) {
      const raw = Array.isArray(query.limit) ? null : query.limit;
      limit = raw !== null && /^\+?[0-9]+$/.test(raw) ? Number(raw) : NaN;
      if (!(limit >= 1 && limit <= MAX_LIMIT)) errors.push(`limit: must be a whole number from 1 to ${MAX_LIMIT}`);
    }
    if (errors.length > 0) {
      problem(reply, 400, 'bad-request', 'Bad request', errors.join('; '));
      return reply;
    }

    const statement = kinds.length > 0 && regions.length > 0
      ? { ...LIST_KIND_REGION_SQL, values: [kinds, regions, limit + 1] }
      : { ...LIST_SQL, values: [kinds.length > 0 ? kinds : null, regions.length > 0 ? regions : null, limit + 1] };
    const { rows } = await pool.query(statement);
    const more = rows.length > limit;
    if (more) rows.length = limit;
    const sets = await loadSets(rows.map((row) => row.id));
    const day = membershipDay();
    const data = rows.map((row) => organisationResponse(row, sets.get(row.id), day));

    let nextCursor = null;
    if (more) {
      const last = rows[rows.length - 1];
      // Convene's cursor: base64url (no padding) of {"s":sort,"k":key,"i":id}.
      nextCursor = Buffer.from(JSON.stringify({ s: 'name', k: last.name_key, i: last.id })).toString('base64url');
      const pairs = new URLSearchParams(request.url.slice(request.url.indexOf('?') + 1));
      pairs.delete('cursor');
      pairs.append('cursor', nextCursor);
      reply.header('link', `<${request.url.split('?')[0]}?${pairs}>; rel="next"`);
    }
    return { data, next_cursor: nextCursor };
  });

  app.get('/api/v1/organisations/:id', { schema: { response: { 200: organisationSchema } }, onSend: plainJson }, async (request, reply) => {
    const user = await authenticate(request, reply);
    if (user === null) return reply;
    const id = uuid(request.params.id);
    if (id === null) {
      problem(reply, 400, 'bad-request', 'Bad request', 'id: must be a UUID');
      return reply;
    }
    const { rows } = await pool.query({ ...FIND_SQL, values: [id] });
    if (rows.length === 0) {
      problem(reply, 404, 'not-found', 'Not found', 'organisation not found');
      return reply;
    }
    const row = rows[0];
    const sets = await loadSets([row.id]);
    reply.header('etag', `"${row.version}"`);
    return organisationResponse(row, sets.get(row.id), membershipDay());
  });

  app.setNotFoundHandler((request, reply) => {
    problem(reply, 404, 'not-found', 'Not found', 'no such resource');
  });

  app.setErrorHandler((error, request, reply) => {
    console.error(error);
    problem(reply, 500, 'internal', 'Internal server error', 'something went wrong on our side; it has been logged');
  });

  const close = async () => {
    await app.close();
    await pool.end();
    process.exit(0);
  };
  process.on('SIGTERM', close);
  process.on('SIGINT', close);

  await app.listen({ host: '127.0.0.1', port: config.port });
  console.log(`worker ${process.pid} listening on http://127.0.0.1:${config.port}`);
}

/** A UUID as Convene's path ids accept it (hyphenated, simple, braced or URN), normalised. */
function uuid(raw) {
  let text = raw;
  if (text.length === 45 && text.slice(0, 9).toLowerCase() === 'urn:uuid:') text = text.slice(9);
  else if (text.length === 38 && text[0] === '{' && text[37] === '}') text = text.slice(1, 37);
  let hex;
  if (text.length === 36 && /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(text)) {
    hex = text.replace(/-/g, '');
  } else if (text.length === 32 && /^[0-9a-fA-F]{32}$/.test(text)) {
    hex = text;
  } else {
    return null;
  }
  hex = hex.toLowerCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Now, as a UTC timestamp for PostgreSQL's `timestamp` columns. */
function utcNow() {
  return new Date().toISOString().slice(0, -1);
}

function readConfig() {
  const get = (name) => {
    const value = process.env[name];
    return value === undefined || value.trim() === '' ? undefined : value;
  };
  const fail = (message) => {
    console.error(message);
    process.exit(2);
  };
  const databaseUrl = get('DATABASE_URL');
  if (!databaseUrl || !/^postgres(ql)?:\/\//.test(databaseUrl)) fail('DATABASE_URL must be a postgres:// URL');
  const jwtSecret = get('JWT_SECRET');
  if (!jwtSecret || Buffer.byteLength(jwtSecret) < 32) fail('JWT_SECRET must be set, at least 32 bytes (the same as Convene\'s)');
  const previousSecret = get('JWT_PREVIOUS_SECRET');
  if (previousSecret && Buffer.byteLength(previousSecret) < 32) fail('JWT_PREVIOUS_SECRET must be at least 32 bytes');
  const accessMinutes = whole(get('ACCESS_TOKEN_MINUTES'), 1, 60, 15, 'ACCESS_TOKEN_MINUTES', fail);
  let previousUntil = Date.now() + accessMinutes * 60_000;
  if (get('JWT_PREVIOUS_SECRET_UNTIL')) {
    previousUntil = Date.parse(get('JWT_PREVIOUS_SECRET_UNTIL'));
    if (Number.isNaN(previousUntil)) fail('JWT_PREVIOUS_SECRET_UNTIL must be an RFC 3339 time');
  }
  return {
    databaseUrl,
    port: whole(get('PORT'), 1, 65535, 18450, 'PORT', fail),
    pool: whole(get('POOL'), 1, 256, 8, 'POOL', fail),
    jwtSecret,
    previousSecret,
    previousUntil,
    issuer: get('JWT_ISSUER') ?? 'convene',
    audience: get('JWT_AUDIENCE') ?? 'convene-api',
    graceDays: whole(get('MEMBERSHIP_GRACE_DAYS'), 0, 365, 30, 'MEMBERSHIP_GRACE_DAYS', fail),
  };
}

function whole(raw, min, max, fallback, name, fail) {
  if (raw === undefined) return fallback;
  const value = Number(raw.trim());
  if (!Number.isInteger(value) || value < min || value > max || !/^[0-9]+$/.test(raw.trim())) {
    fail(`${name} must be a whole number from ${min} to ${max}`);
  }
  return value;
}
