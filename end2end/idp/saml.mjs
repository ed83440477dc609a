// Throwaway SAML 2.0 identity provider for devpulse's SSO tests (see README.md), built on
// samlify. Usage: PORT=4466 node end2end/idp/saml.mjs
// Test harnesses wait for the line READY on stdout; everything else goes to stderr.

import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';
import * as samlify from 'samlify';
import * as validator from '@authenio/samlify-node-xmllint';

samlify.setSchemaValidator(validator);

// xmllint (compiled by emscripten) prints with console.log when it finishes; stdout carries
// only READY (harnesses may stop reading it), so everything else goes to stderr.
const say = console.log;
console.log = console.error;

const port = Number(process.env.PORT);
if (!port) throw new Error('PORT env var is required');
// ISSUER_HOST=localhost: another site than a service provider on 127.0.0.1, so a browser
// treats the IdP's post to the ACS as cross-site, as in production.
const base = `http://${process.env.ISSUER_HOST ?? '127.0.0.1'}:${port}`;
const here = new URL('.', import.meta.url).pathname;

// ROTATED=1: sign with the second test key pair, as an IdP does after rotating its key (its
// metadata then names only the new certificate).
const keys = process.env.ROTATED === '1' ? 'saml-idp-2' : 'saml-idp';
const idp = samlify.IdentityProvider({
  entityID: `${base}/metadata`,
  privateKey: readFileSync(`${here}${keys}.key`),
  signingCert: readFileSync(`${here}${keys}.crt`),
  wantAuthnRequestsSigned: false,
  nameIDFormat: ['urn:oasis:names:tc:SAML:2.0:nameid-format:persistent'],
  singleSignOnService: [
    { Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect', Location: `${base}/sso` },
  ],
});

// Service providers by entity ID, from their metadata: devpulse's entity ID is the address
// of its metadata, so a request's issuer is enough to find it.
const sps = new Map();
async function spFor(entityId) {
  if (!sps.has(entityId)) {
    const res = await fetch(entityId);
    if (!res.ok) throw new Error(`SP metadata ${entityId}: ${res.status}`);
    sps.set(entityId, samlify.ServiceProvider({ metadata: await res.text() }));
  }
  return sps.get(entityId);
}

// The sign-in request in a redirect binding's query, and the SP that sent it.
async function readRequest(query) {
  const xml = inflateRawSync(Buffer.from(query.SAMLRequest ?? '', 'base64')).toString('utf8');
  const issuer = /<(?:\w+:)?Issuer[^>]*>([^<]+)</.exec(xml)?.[1];
  if (!issuer) throw new Error('the request names no issuer');
  const sp = await spFor(issuer);
  const parsed = await idp.parseLoginRequest(sp, 'redirect', { query });
  return { sp, parsed };
}

const escape = (s) =>
  String(s).replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

// A signed Response for `user` ({email, name, groups[], subject}). Knobs for tests:
// `audience` (another SP's entity ID), `ageSeconds` (issued that long ago, and expired),
// `nameIdFormat` (e.g. transient), `status` (a StatusCode other than Success).
async function respond(sp, parsed, user, relayState, { audience, ageSeconds = 0, nameIdFormat, status } = {}) {
  const acs = sp.entityMeta.getAssertionConsumerService('post');
  const attributes = [
    ['email', [user.email]],
    ['name', [user.name ?? '']],
    ['groups', user.groups ?? []],
  ]
    .map(
      ([name, values]) =>
        `<saml:Attribute Name="${name}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">` +
        values.map((v) => `<saml:AttributeValue>${escape(v)}</saml:AttributeValue>`).join('') +
        '</saml:Attribute>',
    )
    .join('');
  const customTagReplacement = (template) => {
    const id = `_${randomUUID()}`;
    const now = new Date(Date.now() - ageSeconds * 1000);
    const later = new Date(now.getTime() + 5 * 60 * 1000);
    const values = {
      ID: id,
      AssertionID: `_${randomUUID()}`,
      Destination: acs,
      Audience: audience ?? sp.entityMeta.getEntityID(),
      SubjectRecipient: acs,
      Issuer: idp.entityMeta.getEntityID(),
      IssueInstant: now.toISOString(),
      StatusCode: status ?? 'urn:oasis:names:tc:SAML:2.0:status:Success',
      ConditionsNotBefore: now.toISOString(),
      ConditionsNotOnOrAfter: later.toISOString(),
      SubjectConfirmationDataNotOnOrAfter: later.toISOString(),
      NameIDFormat: nameIdFormat ?? 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
      NameID: user.subject ?? user.email,
      InResponseTo: parsed.extract.request.id,
      AuthnStatement: '',
      AttributeStatement: '',
    };
    const withAttributes = template.replace(
      '{AttributeStatement}',
      `<saml:AttributeStatement>${attributes}</saml:AttributeStatement>`,
    );
    return { id, context: samlify.default.SamlLib.replaceTagsByValue(withAttributes, values) };
  };
  const { context } = await idp.createLoginResponse(sp, parsed, 'post', user, {
    relayState,
    customTagReplacement,
  });
  return { acs, SAMLResponse: context, RelayState: relayState };
}

// Sign-ins shown the login form, by a one-time key.
const pending = new Map();

const page = (res, status, html) => {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Test SAML IdP</title></head><body><main>${html}</main></body></html>`);
};

async function body(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8');
}

const server = createServer(async (req, res) => {
  const url = new URL(req.url, base);
  try {
    if (req.method === 'GET' && url.pathname === '/metadata') {
      res.writeHead(200, { 'content-type': 'application/samlmetadata+xml' });
      return res.end(idp.getMetadata());
    }
    if (req.method === 'GET' && url.pathname === '/sso') {
      const query = Object.fromEntries(url.searchParams);
      const { sp, parsed } = await readRequest(query);
      const key = randomUUID();
      pending.set(key, { sp, parsed, relayState: query.RelayState });
      return page(
        res,
        200,
        `<h1>Test SAML IdP</h1><form method="post" action="/login">` +
          `<input type="hidden" name="key" value="${key}">` +
          `<label>E-mail <input name="email" id="email" required></label>` +
          `<label>Name <input name="name" id="name"></label>` +
          `<label>Groups (comma-separated) <input name="groups" id="groups"></label>` +
          `<button type="submit" id="sign-in">Sign in</button></form>`,
      );
    }
    if (req.method === 'POST' && url.pathname === '/login') {
      const form = Object.fromEntries(new URLSearchParams(await body(req)));
      const p = pending.get(form.key);
      pending.delete(form.key);
      if (!p) return page(res, 400, '<p>Unknown or used sign-in.</p>');
      const groups = (form.groups ?? '').split(',').map((g) => g.trim()).filter(Boolean);
      const out = await respond(p.sp, p.parsed, { email: form.email, name: form.name, groups }, p.relayState);
      // The HTTP-POST binding: the browser posts the Response to the ACS.
      return page(
        res,
        200,
        `<form method="post" action="${escape(out.acs)}" id="post">` +
          `<input type="hidden" name="SAMLResponse" value="${escape(out.SAMLResponse)}">` +
          `<input type="hidden" name="RelayState" value="${escape(out.RelayState ?? '')}">` +
          `<button type="submit" id="continue">Continue</button></form>` +
          `<script>document.getElementById('post').submit()</script>`,
      );
    }
    if (req.method === 'POST' && url.pathname === '/issue') {
      // For server tests: {request: "<the redirect URL to /sso>", email, name, groups,
      // subject, audience, ageSeconds, nameIdFormat, status} → {acs, SAMLResponse, RelayState}.
      const input = JSON.parse(await body(req));
      const query = Object.fromEntries(new URL(input.request).searchParams);
      const { sp, parsed } = await readRequest(query);
      const out = await respond(sp, parsed, input, query.RelayState, input);
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify(out));
    }
    res.writeHead(404).end();
  } catch (e) {
    console.error(e);
    res.writeHead(500, { 'content-type': 'text/plain' }).end(String(e?.message ?? e));
  }
});

const host = process.env.ISSUER_HOST === 'localhost' ? undefined : '127.0.0.1';
server.listen(port, host, () => say('READY'));
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
