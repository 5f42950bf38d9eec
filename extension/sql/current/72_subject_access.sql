-- Subject access (UK GDPR Art. 15) and portability (Art. 20) in one call: everything a member
-- holds on a person, as one JSON document whose layout is versioned and documented in
-- docs/subject_access.md ("schema": "pg_outreach.subject_access/1"). Only the member's DPO may
-- call it, for a request it has opened (the call is tied to it in the audit log), and each call
-- records the special-category read. Every part is found by the person's keys (indexes and
-- blocks of ids), never by reading the member's whole population, so the time does not grow with
-- the member's size.

-- What the member tells every person about the processing (Art. 13/14, 15(1)(a)-(h)): the
-- service's defaults, as the members' privacy notices state them. (Issue 17's record of
-- processing activities will let a member state its own.)
CREATE OR REPLACE FUNCTION outreach.processing_statement(controller_id int) RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT jsonb_build_object(
    'controller', (SELECT jsonb_build_object('code', c.code, 'name', c.name) FROM outreach.controller c
                   WHERE c.controller_id = processing_statement.controller_id),
    'purposes', jsonb_build_array(
      'to record participation in outreach activities that widen access to higher education',
      'to evaluate the effect of outreach on progression, by linking to education records (DfE, ESFA, HESA/Jisc, UCAS)',
      'to report, in aggregate only, on equality of access (to the Office for Students among others)'),
    -- the member's own, as its DPO recorded them (outreach.controller_processing), else the
    -- service's defaults: public task, and archiving, research and statistics
    'lawful_bases', (SELECT jsonb_build_object(
                       'personal_data', outreach.catalogue_words('basis', coalesce(p.lawful_basis, '6(1)(e)')),
                       'special_category_data', outreach.catalogue_words('art9', coalesce(p.art9_condition, '9(2)(j)')),
                       'recorded_by_the_member', p.lawful_basis IS NOT NULL)
                     FROM (SELECT processing_statement.controller_id AS id) AS k
                     LEFT JOIN outreach.controller_processing p ON p.controller_id = k.id),
    'categories', jsonb_build_array('identity and contact (name, date of birth, postcode, school)',
      'participation (activities and dates attended)', 'education outcomes returned by linkage',
      'special category: sex, gender identity, ethnicity, disability, religion, where given'),
    'source', 'the member that registered the person (from the person, their school or college), and the education bodies that return outcomes',
    'recipients', 'the bodies in "disclosures" below, each under a pseudonymous reference; other members see only that the same person attended their activities (member, activity type, date)',
    'retention', 'as "retention" below: 15 years from the Expected HE Entry Year where the record is complete and the person attended within 15 years, otherwise 7 years from the last activity, then deleted leaving no personal data',
    'rights', jsonb_build_array('access', 'rectification', 'erasure', 'restriction of processing',
      'objection', 'data portability', 'withdrawal of permission at any time'),
    'complaints', 'to the member''s data-protection officer, or to the Information Commissioner''s Office: ico.org.uk/make-a-complaint, 0303 123 1113',
    'automated_decision_making', 'none: no decision about the person is made by automated means, and no profiling with legal or similar effects')
$$;
REVOKE EXECUTE ON FUNCTION outreach.processing_statement(int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.processing_statement(int) TO outreach_dpo;
COMMENT ON FUNCTION outreach.processing_statement(int) IS
  'what a member tells each person about the processing: purposes, lawful bases, categories, source, recipients, retention, rights, complaints';

-- The recipients whose next export would include a participant now: the export's own
-- eligibility rule (export_render_sql), keyed to the person.
CREATE OR REPLACE FUNCTION outreach.recipients_due(controller_id int, participant_id bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  r record;
  due jsonb := '[]';
  hit boolean;
BEGIN
  -- (no agreement in force: its export is refused, so it is due nothing)
  FOR r IN SELECT d.name, d.title, d.export_layout FROM outreach.recipient_definition d
           WHERE d.enabled AND d.export_layout IS NOT NULL AND (outreach.agreement_in_force(d.name)).agreement_id IS NOT NULL
           ORDER BY d.name LOOP
    BEGIN
      EXECUTE format('SELECT EXISTS (%s)', outreach.export_render_sql(r.name, r.export_layout, current_date, true, true))
        INTO hit USING ARRAY[controller_id], ARRAY[participant_id];
    EXCEPTION WHEN undefined_object THEN
      hit := false;   -- no key for the recipient in the key file: nothing can be sent to it
    END;
    IF hit THEN
      due := due || jsonb_build_object('recipient', r.name, 'title', r.title);
    END IF;
  END LOOP;
  RETURN due;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.recipients_due(int, bigint) FROM PUBLIC;
COMMENT ON FUNCTION outreach.recipients_due(int, bigint) IS
  'the recipients whose next export would include the participant (their eligibility rules)';

CREATE OR REPLACE FUNCTION outreach.subject_access(controller_id int, participant_ids bigint[],
                                                   request_id bigint DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  req outreach.rights_request;
  unknown bigint;
  people jsonb;
  gone jsonb;
BEGIN
  PERFORM outreach.require_dpo(controller_id);
  IF participant_ids IS NULL OR cardinality(participant_ids) = 0 OR cardinality(participant_ids) > 100 THEN
    RAISE EXCEPTION 'name 1 to 100 records of the person' USING ERRCODE = '22023';
  END IF;
  -- Every id is the member's participant or tombstone; anything else is the same 42704.
  SELECT min(coalesce(id, -1)) INTO unknown FROM unnest(subject_access.participant_ids) AS id
  WHERE id IS NULL
     OR (NOT EXISTS (SELECT 1 FROM outreach.participant p WHERE p.controller_id = subject_access.controller_id AND p.participant_id = id)
         AND NOT EXISTS (SELECT 1 FROM outreach.tombstone t WHERE t.controller_id = subject_access.controller_id AND t.participant_id = id));
  IF unknown IS NOT NULL THEN
    RAISE EXCEPTION 'participant % of controller % not found', unknown, controller_id USING ERRCODE = '42704';
  END IF;
  -- The request it answers: the member's open access or portability request that names all
  -- these records (the one given, or else the oldest).
  SELECT * INTO req FROM outreach.rights_request q
  WHERE q.controller_id = subject_access.controller_id AND q.status = 'open'
    AND q.kind IN ('access', 'portability') AND q.participant_ids @> subject_access.participant_ids
    AND (subject_access.request_id IS NULL OR q.request_id = subject_access.request_id)
  ORDER BY q.received_on, q.request_id LIMIT 1;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no open access or portability request of controller % names these records%', controller_id,
                    CASE WHEN request_id IS NULL THEN '' ELSE format(' (request %s)', request_id) END
      USING ERRCODE = '55000',
            HINT = 'open one with outreach.open_rights_request(controller_id, ''access'', received_on, participant_ids => ...)';
  END IF;

  SELECT coalesce(jsonb_agg(x.doc ORDER BY x.participant_id), '[]') INTO people
  FROM (
    SELECT p.participant_id, jsonb_build_object(
      'participant', to_jsonb(p),
      'expected_he_entry_year', jsonb_build_object(
        'year', rs.expected_he_entry_year, 'overridden', rs.entry_year_overridden,
        'override_reason', p.he_entry_year_override_reason),
      'retention', jsonb_build_object('track', rs.track, 'due_on', rs.due_on, 'status', rs.status,
                                      'reasons', to_jsonb(rs.reasons), 'hold_until', rs.hold_until,
                                      'explanation', CASE rs.track
        WHEN '15y' THEN format('kept while the name, date of birth and postcode are held, the person attended an activity '
                               'within the last 15 years and has not withdrawn permission, and at most until 1 September '
                               '15 years after the Expected HE Entry Year: due for deletion on %s', rs.due_on)
        WHEN '7y' THEN format('kept 7 years after the later of the record''s creation and the last activity (it does not '
                              'meet every condition of the 15-year period): due for deletion on %s', rs.due_on)
        WHEN 'withdrawn' THEN 'permission withdrawn: due for deletion at once'
        ELSE 'not computed: ' || array_to_string(rs.reasons, '; ') END
        || CASE WHEN rs.status <> 'retained' THEN format(' (status: %s)', rs.status) ELSE '' END),
      'attendance', coalesce((
        SELECT jsonb_agg(jsonb_build_object('activity_id', a.activity_id, 'activity_type', a.activity_type,
                                            'activity_type_label', t.label, 'activity_name', a.name,
                                            'starts_on', a.starts_on, 'ends_on', a.ends_on,
                                            'delivered_by', dc.code, 'attended_on', att.attended_on)
                         ORDER BY att.attended_on, a.activity_id)
        FROM outreach.attendance att
        JOIN outreach.activity a ON a.controller_id = att.controller_id AND a.activity_id = att.activity_id
        JOIN outreach.activity_type t ON t.code = a.activity_type
        LEFT JOIN outreach.controller dc ON dc.controller_id = a.delivered_by
        WHERE att.controller_id = p.controller_id AND att.participant_id = p.participant_id), '[]'),
      'outcomes', coalesce((
        SELECT jsonb_agg(jsonb_build_object('recipient', b.recipient, 'outcome', u.outcome,
                                            'academic_year', u.academic_year, 'measure', u.measure,
                                            'provider_ukprn', nullif(u.provider_ukprn, 0), 'provider_name', u.provider_name,
                                            'value', u.value, 'updated_at', u.updated_at)
                         ORDER BY b.recipient, u.outcome, u.academic_year, u.measure)
        FROM outreach.outcome_block b
        CROSS JOIN LATERAL unnest(b.participant_ids, b.outcomes, b.academic_years, b.measures, b.provider_ukprns,
                                  b.provider_names, b.outcome_values, b.updated_ats)
          AS u(participant_id, outcome, academic_year, measure, provider_ukprn, provider_name, value, updated_at)
        WHERE b.controller_id = p.controller_id AND b.block = (p.participant_id >> 16)::int
          AND u.participant_id = p.participant_id), '[]'),
      'disclosures', coalesce((
        SELECT jsonb_agg(jsonb_build_object('recipient', e.recipient, 'export_id', e.export_id, 'file_name', e.file_name,
                                            'sent_at', e.finished_at, 'reference', u.reference)
                         ORDER BY e.finished_at, e.export_id)
        FROM outreach.disclosure_block d
        CROSS JOIN LATERAL unnest(d.participant_ids, d.participant_references) AS u(participant_id, reference)
        JOIN outreach.export e ON e.export_id = d.export_id AND e.status = 'finished'
        WHERE d.controller_id = p.controller_id AND d.block = (p.participant_id >> 12)::int
          AND u.participant_id = p.participant_id), '[]'),
      'due_to_recipients', outreach.recipients_due(p.controller_id, p.participant_id),
      'shared_with_other_members', coalesce((
        SELECT jsonb_agg(jsonb_build_object('member', oc.code, 'member_name', oc.name, 'activity_type', oa.activity_type,
                                            'attended_on', oatt.attended_on)
                         ORDER BY oatt.attended_on, oc.code)
        FROM outreach.shareable_participant o
        JOIN outreach.attendance oatt ON oatt.controller_id = o.controller_id AND oatt.participant_id = o.participant_id
        JOIN outreach.activity oa ON oa.controller_id = oatt.controller_id AND oa.activity_id = oatt.activity_id
        JOIN outreach.controller oc ON oc.controller_id = o.controller_id
        WHERE o.linkage_id OPERATOR(outreach.=) p.linkage_id AND o.controller_id <> p.controller_id
          AND p.withdrawn_at IS NULL AND p.restricted_at IS NULL), '[]')
    ) AS doc
    FROM outreach.participant p
    LEFT JOIN outreach.retention_status rs ON rs.controller_id = p.controller_id AND rs.participant_id = p.participant_id
    WHERE p.controller_id = subject_access.controller_id AND p.participant_id = ANY (subject_access.participant_ids)
  ) x;

  SELECT coalesce(jsonb_agg(jsonb_build_object('participant_id', t.participant_id, 'deleted_at', t.deleted_at,
                                               'reasons', to_jsonb(t.reasons), 'due_on', t.due_on,
                                               'confirmed_at', t.confirmed_at) ORDER BY t.participant_id), '[]')
    INTO gone
  FROM outreach.tombstone t
  WHERE t.controller_id = subject_access.controller_id AND t.participant_id = ANY (subject_access.participant_ids)
    AND NOT EXISTS (SELECT 1 FROM outreach.participant p WHERE p.controller_id = t.controller_id AND p.participant_id = t.participant_id);

  -- The read of everything, special-category columns included, tied to the request.
  INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record, columns)
  SELECT subject_access.controller_id, session_user, outreach.invoking_role()::text, 'read_special', 'participant',
         jsonb_build_object('participant_id', id, 'request_id', req.request_id, 'purpose', 'subject_access'),
         ARRAY['sex', 'gender_identity', 'ethnicity', 'disability', 'religion']
  FROM unnest(subject_access.participant_ids) AS id
  WHERE EXISTS (SELECT 1 FROM outreach.participant p WHERE p.controller_id = subject_access.controller_id AND p.participant_id = id);

  RETURN jsonb_build_object(
    'schema', 'pg_outreach.subject_access/1',
    'generated_at', statement_timestamp(),
    'request', jsonb_build_object('request_id', req.request_id, 'kind', req.kind, 'received_on', req.received_on,
                                  'due_on', coalesce(req.extended_due_on, req.due_on)),
    'processing', outreach.processing_statement(controller_id),
    'records', people,
    'deleted_records', gone);
EXCEPTION WHEN OTHERS THEN
  PERFORM outreach.log_refusal('subject_access', subject_access.controller_id, SQLSTATE);
  RAISE;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.subject_access(int, bigint[], bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.subject_access(int, bigint[], bigint) TO outreach_dpo;
COMMENT ON FUNCTION outreach.subject_access(int, bigint[], bigint) IS
  'the DPO''s answer to an access or portability request: everything the member holds on the person, as versioned JSON (docs/subject_access.md); audited';

-- Portability in flat form: the same answer as CSV files (RFC 4180, CRLF line ends), one per
-- kind of record, each with a header of every field that kind holds (participant_id first).
-- A pure function of the document subject_access() returned, so the two cannot disagree:
--   SELECT * FROM outreach.subject_access_csv(outreach.subject_access(42, ARRAY[1001]));
CREATE OR REPLACE FUNCTION outreach.subject_access_csv(doc jsonb)
RETURNS TABLE (file_name text, content text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  WITH recs AS (
    SELECT r FROM jsonb_array_elements(doc -> 'records') AS r
  ), rows (kind, obj) AS (
    SELECT 'participants', (r -> 'participant') || jsonb_build_object(
             'expected_he_entry_year', r #> '{expected_he_entry_year,year}',
             'expected_he_entry_year_overridden', r #> '{expected_he_entry_year,overridden}',
             'retention_track', r #> '{retention,track}', 'retention_due_on', r #> '{retention,due_on}',
             'retention_explanation', r #> '{retention,explanation}')
    FROM recs
    UNION ALL
    SELECT k.kind, jsonb_build_object('participant_id', r #> '{participant,participant_id}') || e
    FROM recs
    CROSS JOIN (VALUES ('attendance'), ('outcomes'), ('disclosures'), ('due_to_recipients'),
                       ('shared_with_other_members')) AS k(kind)
    CROSS JOIN LATERAL jsonb_array_elements(r -> k.kind) AS e
    UNION ALL
    SELECT 'deleted_records', e FROM jsonb_array_elements(doc -> 'deleted_records') AS e
    UNION ALL
    SELECT 'processing', jsonb_build_object('item', p.key, 'statement',
                                            CASE jsonb_typeof(p.value) WHEN 'string' THEN p.value #>> '{}' ELSE p.value::text END)
    FROM jsonb_each(doc -> 'processing') AS p
  ), cols AS (
    SELECT c.kind, array_agg(c.key ORDER BY c.key <> 'participant_id', c.key) AS keys
    FROM (SELECT DISTINCT r.kind, k.key FROM rows r CROSS JOIN LATERAL jsonb_object_keys(r.obj) AS k(key)) AS c
    GROUP BY c.kind
  )
  SELECT c.kind || '.csv',
         outreach.csv_record(c.keys) || E'\r\n'
         || string_agg(outreach.csv_record(ARRAY(SELECT r.obj ->> k FROM unnest(c.keys) WITH ORDINALITY AS u(k, n) ORDER BY u.n)),
                       E'\r\n' ORDER BY (r.obj ->> 'participant_id')::bigint, r.obj::text) || E'\r\n'
  FROM cols c JOIN rows r ON r.kind = c.kind
  GROUP BY c.kind, c.keys
  ORDER BY 1
$$;
COMMENT ON FUNCTION outreach.subject_access_csv(jsonb) IS
  'subject_access() as CSV files for portability, one per kind of record (participants, attendance, outcomes, disclosures, due_to_recipients, shared_with_other_members, deleted_records, processing)';
