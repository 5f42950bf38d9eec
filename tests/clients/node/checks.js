// node-postgres (npm package "pg", pure JavaScript protocol): the member's checks over TCP.
//
// Run by run.sh with the environment
//   PGPORT, CLIENT_MEMBER, CLIENT_OWN_CODE, CLIENT_OTHER_CODE, CLIENT_NAMES_FILE, CLIENT_DB.
// Prints one "ok clients: ..." or "FAILED clients: ..." line per check; exits 1 when any failed.
'use strict';
const fs = require('fs');
const { Client } = require('pg');

const DRIVER = 'node-postgres';
const member = process.env.CLIENT_MEMBER;
const ownCode = process.env.CLIENT_OWN_CODE;
const otherCode = process.env.CLIENT_OTHER_CODE;
const expectedNames = fs.readFileSync(process.env.CLIENT_NAMES_FILE, 'utf8').split('\n').filter((l) => l.trim() !== '');

let failures = 0;
function check(name, passed, detail) {
  if (passed) {
    console.log(`ok clients: ${DRIVER} ${member}: ${name}`);
  } else {
    failures++;
    console.log(`FAILED clients: ${DRIVER} ${member}: ${name}${detail ? ` -- ${detail}` : ''}`);
  }
}

// The SQLSTATE a statement fails with, or null when it succeeds.
async function sqlstateOf(client, text, values) {
  try {
    await client.query(text, values);
    return null;
  } catch (e) {
    return e.code || `(no SQLSTATE: ${e.message})`;
  }
}

async function main() {
  // Trust authentication on 127.0.0.1: user only, no password.
  const client = new Client({
    host: '127.0.0.1',
    port: Number(process.env.PGPORT),
    database: process.env.CLIENT_DB || 'outreach_clients',
    user: member,
    application_name: 'outreach-clients-node',
  });
  await client.connect();
  try {
    const who = (await client.query('SELECT current_user AS cu, session_user AS su')).rows[0];
    check(`connects as ${member} (tcp)`, who.cu === member && who.su === member, `got ${JSON.stringify(who)}`);

    const idOf = async (code) =>
      (await client.query('SELECT controller_id FROM outreach.controller WHERE code = $1', [code])).rows[0].controller_id;
    const ownId = await idOf(ownCode);
    const otherId = await idOf(otherCode);

    const rows = (await client.query(
      "SELECT controller_id, first_name || ' ' || last_name AS name FROM outreach.participant ORDER BY participant_id")).rows;
    const names = rows.map((r) => r.name);
    check(`sees only ${ownCode}'s ${expectedNames.length} participants, by name`,
      JSON.stringify(names) === JSON.stringify(expectedNames) && rows.every((r) => r.controller_id === ownId),
      `got ${rows.length} rows: ${JSON.stringify(rows)}`);

    try {
      await client.query('BEGIN');
      const got = (await client.query(
        'INSERT INTO outreach.participant (first_name, last_name) VALUES ($1, $2) RETURNING controller_id',
        ['Temporary', 'Row'])).rows[0].controller_id;
      check(`inserts a participant for ${ownCode} (rolled back)`, got === ownId, `got controller_id ${got}`);
    } catch (e) {
      check(`inserts a participant for ${ownCode} (rolled back)`, false, `SQLSTATE ${e.code}: ${e.message}`);
    } finally {
      await client.query('ROLLBACK');
    }

    let state = await sqlstateOf(client,
      'INSERT INTO outreach.participant (controller_id, first_name, last_name) VALUES ($1, $2, $3)',
      [otherId, 'Cross', 'Controller']);
    check(`insert with ${otherCode}'s controller_id refused with 42501`, state === '42501', `got SQLSTATE ${state}`);

    state = await sqlstateOf(client, 'SELECT ethnicity FROM outreach.participant');
    check('select of special-category column ethnicity refused with 42501', state === '42501', `got SQLSTATE ${state}`);
  } finally {
    await client.end();
  }
}

main().then(
  () => process.exit(failures ? 1 : 0),
  (e) => { console.error(e); process.exit(2); });
