-- Each member's lawful bases, ICO registration and DPO (recorded by its DPO), and the record
-- of processing activities (UK GDPR Art. 30) rendered from them, the data catalogue, the
-- retention policies and the recipients: Art. 30(1) for each member, Art. 30(2) for the service
-- as processor. Nothing in the record is kept by hand.

CREATE TABLE outreach.controller_processing (
  controller_id int PRIMARY KEY REFERENCES outreach.controller ON DELETE CASCADE,
  organisation_kind text NOT NULL CHECK (organisation_kind IN ('university', 'college', 'charity', 'other_public_body')),
  lawful_basis text NOT NULL CHECK (lawful_basis IN ('6(1)(e)', '6(1)(f)')),
  art9_condition text NOT NULL CHECK (art9_condition IN ('9(2)(j)', '9(2)(g)')),
  ico_registration text NOT NULL CHECK (ico_registration ~ '^Z[A-Z0-9][0-9]{6}$'),
  dpo_contact text NOT NULL CHECK (length(dpo_contact) BETWEEN 1 AND 200),
  recorded_at timestamptz NOT NULL DEFAULT now(),
  recorded_by text NOT NULL,
  -- public task for universities, colleges and public bodies; a charity may rely on either
  CONSTRAINT controller_processing_basis CHECK (lawful_basis = '6(1)(e)' OR organisation_kind = 'charity')
);
COMMENT ON TABLE outreach.controller_processing IS
  'each member''s lawful basis (Art. 6), Art. 9 condition, ICO registration and DPO contact, as its DPO recorded them';
SELECT pg_catalog.pg_extension_config_dump('outreach.controller_processing', '');
ALTER TABLE outreach.controller_processing ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.controller_processing FORCE ROW LEVEL SECURITY;
CREATE POLICY controller_processing_read ON outreach.controller_processing FOR SELECT
  USING (outreach.controller_visible(controller_id, 'dpo') OR pg_has_role('outreach_processor', 'MEMBER'));
REVOKE ALL ON outreach.controller_processing FROM PUBLIC;
GRANT SELECT ON outreach.controller_processing TO outreach_dpo, outreach_processor;

-- The member's DPO records (or changes) its bases. Unknown values are 22023 with the choices.
CREATE OR REPLACE FUNCTION outreach.set_processing_basis(controller_id int, organisation_kind text, lawful_basis text,
                                                         ico_registration text, dpo_contact text,
                                                         art9_condition text DEFAULT '9(2)(j)')
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM outreach.require_dpo(controller_id);
  IF organisation_kind IS NULL OR organisation_kind NOT IN ('university', 'college', 'charity', 'other_public_body') THEN
    RAISE EXCEPTION 'unknown organisation kind "%"', left(organisation_kind, 100) USING ERRCODE = '22023',
      HINT = 'university, college, charity or other_public_body';
  END IF;
  IF lawful_basis IS NULL OR lawful_basis NOT IN ('6(1)(e)', '6(1)(f)') THEN
    RAISE EXCEPTION 'unknown lawful basis "%"', left(lawful_basis, 100) USING ERRCODE = '22023',
      HINT = '6(1)(e) (public task) or, for a charity, 6(1)(f) (legitimate interests)';
  END IF;
  IF lawful_basis = '6(1)(f)' AND organisation_kind <> 'charity' THEN
    RAISE EXCEPTION 'a % processes this data as a public task: 6(1)(e)', organisation_kind USING ERRCODE = '22023',
      HINT = 'Legitimate interests (6(1)(f)) is open to charities only: public authorities cannot rely on it for their tasks.';
  END IF;
  IF art9_condition IS NULL OR art9_condition NOT IN ('9(2)(j)', '9(2)(g)') THEN
    RAISE EXCEPTION 'unknown Art. 9 condition "%"', left(art9_condition, 100) USING ERRCODE = '22023',
      HINT = '9(2)(j) (archiving, research and statistics) or 9(2)(g) (substantial public interest: equality of opportunity)';
  END IF;
  IF ico_registration IS NULL OR ico_registration !~ '^Z[A-Z0-9][0-9]{6}$' THEN
    RAISE EXCEPTION 'an ICO registration number is Z and seven characters, e.g. Z1234567 or ZA123456' USING ERRCODE = '22023';
  END IF;
  -- One line of printable text: no control or direction-changing characters, which could
  -- make the record show what the member did not write.
  IF dpo_contact IS NULL OR length(btrim(dpo_contact)) NOT BETWEEN 1 AND 200
     OR dpo_contact ~ '[[:cntrl:]\u200e\u200f\u202a-\u202e\u2066-\u2069]' THEN
    RAISE EXCEPTION 'the DPO contact is 1 to 200 printable characters on one line' USING ERRCODE = '22023';
  END IF;
  INSERT INTO outreach.controller_processing AS p (controller_id, organisation_kind, lawful_basis, art9_condition,
                                                   ico_registration, dpo_contact, recorded_by)
  VALUES (set_processing_basis.controller_id, organisation_kind, lawful_basis, art9_condition, ico_registration,
          btrim(dpo_contact), outreach.invoking_role()::text)
  ON CONFLICT ON CONSTRAINT controller_processing_pkey DO UPDATE
    SET organisation_kind = EXCLUDED.organisation_kind, lawful_basis = EXCLUDED.lawful_basis,
        art9_condition = EXCLUDED.art9_condition, ico_registration = EXCLUDED.ico_registration,
        dpo_contact = EXCLUDED.dpo_contact, recorded_at = now(), recorded_by = EXCLUDED.recorded_by;
EXCEPTION WHEN OTHERS THEN
  PERFORM outreach.log_refusal('set_processing_basis', set_processing_basis.controller_id, SQLSTATE);
  RAISE;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.set_processing_basis(int, text, text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.set_processing_basis(int, text, text, text, text, text) TO outreach_dpo;
COMMENT ON FUNCTION outreach.set_processing_basis(int, text, text, text, text, text) IS
  'the member''s DPO records its lawful basis, Art. 9 condition, ICO registration and DPO contact';

-- Words for the catalogue's keys.
CREATE OR REPLACE FUNCTION outreach.catalogue_words(kind text, key text) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT CASE kind
    WHEN 'purpose' THEN CASE key
      WHEN 'evaluation' THEN 'to record participation in outreach and evaluate its effect on progression to higher education'
      WHEN 'linkage' THEN 'to track outcomes by linkage with national education records (DfE, ESFA, Jisc/HESA, UCAS)'
      WHEN 'sharing' THEN 'to show members that their participants also took part in other members'' activities'
      WHEN 'equality' THEN 'to monitor equality of access, in aggregates that disclose no one'
      WHEN 'retention' THEN 'to apply the retention policy and delete records when due'
      WHEN 'rights' THEN 'to answer data subjects'' requests'
      WHEN 'art19' THEN 'to tell recipients of rectification, erasure and restriction (Art. 19)'
      WHEN 'accountability' THEN 'to show compliance: who read or changed what, and why (Art. 5(2))'
      WHEN 'service_operation' THEN 'to deliver notices to members' END
    WHEN 'basis' THEN CASE key
      WHEN '6(1)(e)' THEN 'UK GDPR Art. 6(1)(e): a task carried out in the public interest'
      WHEN '6(1)(f)' THEN 'UK GDPR Art. 6(1)(f): legitimate interests'
      WHEN '6(1)(c)' THEN 'UK GDPR Art. 6(1)(c): a legal obligation (records the law requires)' END
    WHEN 'art9' THEN CASE key
      WHEN '9(2)(j)' THEN 'UK GDPR Art. 9(2)(j) with DPA 2018 Sch. 1 Part 1 para 4: archiving, research and statistics'
      WHEN '9(2)(g)' THEN 'UK GDPR Art. 9(2)(g) with DPA 2018 Sch. 1 Part 2 para 8: equality of opportunity or treatment' END
    WHEN 'retention' THEN CASE key
      WHEN 'participant_policy' THEN 'the member''s retention policy (see its time limits)'
      WHEN 'with_participant' THEN 'deleted with the participant''s record'
      WHEN 'ledger' THEN 'kept, pseudonymous, as the record of what was disclosed, for the policy''s ledger_years after the export'
      WHEN 'rights_register' THEN 'kept as the register of requests'
      WHEN 'audit_trail' THEN 'kept as the audit trail for the policy''s audit_trail_years, then only counted'
      WHEN 'staging' THEN 'minutes: removed when the export or sweep ends'
      WHEN 'service_records' THEN 'kept with the service''s operational records (delivered notices for the policy''s notice_days, import error lines for the service''s import_error_days)'
      WHEN 'tombstone' THEN 'kept as the record of a deletion, with no personal data, for the policy''s tombstone_years' END END
$$;
COMMENT ON FUNCTION outreach.catalogue_words(text, text) IS 'the words for a data catalogue key (purpose, basis, art9, retention)';

-- The record itself: one row per item. Members' DPOs read their own member's Art. 30(1) and
-- the service's Art. 30(2); the processor role reads every member's.
CREATE OR REPLACE FUNCTION outreach.record_of_processing_rows()
RETURNS TABLE (controller_id int, controller_code text, article text, item text, entry jsonb)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off   -- a few dozen rows; the planner's estimate made JIT compile for 3 s
AS $$
#variable_conflict use_column
DECLARE
  ids int[] := CASE WHEN pg_has_role(outreach.invoking_role(), 'outreach_processor', 'MEMBER')
                    THEN ARRAY(SELECT c.controller_id FROM outreach.controller c)
                    ELSE outreach.caller_controller_ids('dpo') END;
  security jsonb;
  transfers jsonb;
BEGIN
  IF cardinality(ids) = 0 THEN
    RETURN;
  END IF;
  -- Measures in force, read from the catalogue of the database, not written down.
  security := jsonb_build_object(
    'row_level_security', format('%s tables holding personal data are under forced row security, one member''s rows apart from another''s',
      (SELECT count(*) FROM pg_class k JOIN pg_namespace n ON n.oid = k.relnamespace AND n.nspname = 'outreach'
       WHERE k.relkind = 'r' AND k.relrowsecurity AND k.relforcerowsecurity
         AND k.relname IN (SELECT d.table_name FROM outreach.data_catalogue d WHERE d.category <> 'none'))),
    'special_category', 'special category columns are readable by each member''s DPO only (column privileges), and every read is audited',
    'pseudonymisation', 'linkage and recipients'' references are keyed pseudonyms (HMAC-SHA-256) with keys kept outside the database and its backups',
    'audit', 'inserts, updates, deletions and special-category reads are logged per member (outreach.audit_log)',
    'encryption_in_transit', format('%s of %s enabled recipients have an OpenPGP key: their files are encrypted to it',
      (SELECT count(*) FROM outreach.recipient r WHERE r.enabled AND r.pgp_public_key IS NOT NULL),
      (SELECT count(*) FROM outreach.recipient r WHERE r.enabled)));
  -- Transfers outside the UK: the recipients whose agreement in force says so, with the safeguard.
  transfers := jsonb_build_object('transfers', coalesce((
    SELECT jsonb_agg(jsonb_build_object('recipient', r.name, 'safeguard', a.transfer_safeguard, 'agreement', a.reference)
                     ORDER BY r.name)
    FROM outreach.recipient r CROSS JOIN LATERAL outreach.agreement_in_force(r.name) a
    WHERE r.enabled AND a.leaves_uk), '[]'));
  RETURN QUERY
  WITH members AS (
    SELECT c.controller_id, c.code, c.name, c.dpo_contact AS contact, c.legal_contact,
           p.organisation_kind, p.lawful_basis, p.art9_condition, p.ico_registration, p.dpo_contact
    FROM outreach.controller c LEFT JOIN outreach.controller_processing p ON p.controller_id = c.controller_id
    WHERE c.controller_id = ANY (ids)
  ), personal AS (
    SELECT d.* FROM outreach.data_catalogue d WHERE d.category <> 'none'
  ), items AS (
    SELECT m.controller_id, m.code, '30(1)(a)' AS article, 'controller and data-protection officer' AS item,
           jsonb_build_object('name', m.name, 'code', m.code, 'organisation_kind', m.organisation_kind,
                              'ico_registration', m.ico_registration,
                              'dpo_contact', coalesce(m.dpo_contact, m.contact), 'legal_contact', m.legal_contact,
                              'recorded', m.lawful_basis IS NOT NULL) AS entry
    FROM members m
    UNION ALL
    SELECT m.controller_id, m.code, '30(1)(b)', 'purposes and lawful bases',
           (SELECT jsonb_agg(jsonb_build_object(
                     'purpose', x.purpose, 'description', outreach.catalogue_words('purpose', x.purpose),
                     'lawful_bases', (SELECT jsonb_agg(DISTINCT outreach.catalogue_words('basis', CASE WHEN b = 'member'
                                                             THEN coalesce(m.lawful_basis, '6(1)(e)') ELSE b END))
                                      FROM unnest(x.bases) AS b),
                     'art9_condition', CASE WHEN x.special THEN outreach.catalogue_words('art9', coalesce(m.art9_condition, '9(2)(j)')) END)
                     ORDER BY x.purpose)
            FROM (SELECT u.purpose, array_agg(DISTINCT d.lawful_basis) AS bases, bool_or(d.special_category) AS special
                  FROM personal d CROSS JOIN LATERAL unnest(d.purposes) AS u(purpose) GROUP BY u.purpose) AS x)
    FROM members m
    UNION ALL
    SELECT m.controller_id, m.code, '30(1)(c)', 'categories of data subjects and of personal data',
           jsonb_build_object(
             'data_subjects', jsonb_build_array('young people and adults taking part in the member''s outreach activities',
                                                'the member''s and the service''s staff (accounts and contacts)'),
             'personal_data', (SELECT jsonb_agg(jsonb_build_object('category', y.category, 'special_category', y.special,
                                                                   'where', y.places) ORDER BY y.category)
                               FROM (SELECT d.category, bool_or(d.special_category) AS special,
                                            jsonb_agg(d.table_name || '.' || d.column_name ORDER BY d.table_name, d.column_name) AS places
                                     FROM personal d GROUP BY d.category) AS y))
    FROM members m
    UNION ALL
    SELECT m.controller_id, m.code, '30(1)(d)', 'categories of recipients',
           jsonb_build_object(
             'linkage_recipients', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                       'recipient', r.name, 'title', r.title, 'enabled', r.enabled,
                                       'fields', (SELECT jsonb_agg(lc.field ORDER BY lc.position) FROM outreach.recipient_layout_column lc
                                                  WHERE lc.recipient = r.name AND lc.kind = 'export' AND lc.version = r.export_layout
                                                    AND lc.field NOT IN ('blank', 'record_action')),
                                       'sent_so_far', EXISTS (SELECT 1 FROM outreach.disclosure_block b
                                                              WHERE b.controller_id = m.controller_id AND b.recipient = r.name),
                                       'agreement', (SELECT jsonb_build_object('legal_gateway', a.legal_gateway, 'reference', a.reference,
                                                                               'approved_by', a.approved_by, 'valid_from', a.valid_from,
                                                                               'valid_until', a.valid_until)
                                                     FROM outreach.agreement_in_force(r.name) a WHERE a.agreement_id IS NOT NULL))
                                     ORDER BY r.name), '[]')
                                    FROM outreach.recipient r WHERE r.export_layout IS NOT NULL),
             'other_members', 'that the same person took part in their activities (member, activity type, date), by linkage pseudonym; no personal data',
             'processor', 'the service that runs this database, on the member''s instructions')
    FROM members m
    UNION ALL
    SELECT m.controller_id, m.code, '30(1)(e)', 'transfers to third countries', transfers
    FROM members m
    UNION ALL
    SELECT m.controller_id, m.code, '30(1)(f)', 'time limits for erasure',
           jsonb_build_object(
             'policy', (SELECT jsonb_build_object('long_track_years', pol.long_track_years, 'short_track_years', pol.short_track_years,
                                                  'attendance_window_years', pol.attendance_window_years,
                                                  'withdrawal_confirm_days', pol.withdrawal_confirm_days,
                                                  'grace_days', pol.grace_days, 'nation', pol.nation,
                                                  'rule', format('kept %s years from the Expected HE Entry Year if the record is complete and the person attended within %s years; otherwise %s years from creation or last activity; a withdrawal is deleted once confirmed, within %s days',
                                                                 pol.long_track_years, pol.attendance_window_years, pol.short_track_years,
                                                                 pol.withdrawal_confirm_days))
                        FROM outreach.retention_policy pol WHERE pol.controller_id = m.controller_id),
             'by_data', (SELECT jsonb_object_agg(z.retention, z.words) FROM
                         (SELECT DISTINCT d.retention, outreach.catalogue_words('retention', d.retention) AS words FROM personal d) AS z),
             'export_files', format('files sent to recipients are removed from the service''s export directory %s days after the recipient confirms receipt (overwritten first where the file system allows)',
                                   outreach.export_file_days()))
    FROM members m
    UNION ALL
    SELECT m.controller_id, m.code, '30(1)(g)', 'technical and organisational security measures', security
    FROM members m
    UNION ALL
    -- The service as processor, once.
    SELECT NULL::int, NULL::text, '30(2)(a)', 'processor and the controllers it acts for',
           jsonb_build_object('processor', current_database(),
                              'controllers', (SELECT jsonb_agg(jsonb_build_object('code', m.code, 'name', m.name,
                                                                                  'dpo_contact', coalesce(m.dpo_contact, m.contact))
                                                               ORDER BY m.code) FROM members m))
    UNION ALL
    SELECT NULL::int, NULL::text, '30(2)(b)', 'categories of processing carried out for each controller',
           (SELECT jsonb_agg(DISTINCT outreach.catalogue_words('purpose', u.purpose)) FROM personal d
            CROSS JOIN LATERAL unnest(d.purposes) AS u(purpose))
    UNION ALL
    SELECT NULL::int, NULL::text, '30(2)(c)', 'transfers to third countries', transfers
    UNION ALL
    SELECT NULL::int, NULL::text, '30(2)(d)', 'technical and organisational security measures', security
  )
  SELECT i.controller_id, i.code, i.article, i.item, i.entry FROM items i ORDER BY i.controller_id NULLS LAST, i.article;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.record_of_processing_rows() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.record_of_processing_rows() TO outreach_dpo, outreach_processor;
COMMENT ON FUNCTION outreach.record_of_processing_rows() IS 'the rows of outreach.record_of_processing for the caller';

CREATE OR REPLACE VIEW outreach.record_of_processing AS
SELECT controller_id, controller_code, article, item, entry FROM outreach.record_of_processing_rows();
REVOKE ALL ON outreach.record_of_processing FROM PUBLIC;
GRANT SELECT ON outreach.record_of_processing TO outreach_dpo, outreach_processor;
COMMENT ON VIEW outreach.record_of_processing IS
  'UK GDPR Art. 30: the record of processing activities of each member (30(1), its DPO reads its own) and of the service as processor (30(2)), rendered from the data catalogue, the members'' bases, retention policies and recipients';
COMMENT ON COLUMN outreach.record_of_processing.controller_id IS 'the member (NULL: the service''s own record as processor)';
COMMENT ON COLUMN outreach.record_of_processing.controller_code IS 'the member''s code';
COMMENT ON COLUMN outreach.record_of_processing.article IS 'the paragraph of Art. 30 the row answers, e.g. 30(1)(b)';
COMMENT ON COLUMN outreach.record_of_processing.item IS 'what the paragraph asks for, in words';
COMMENT ON COLUMN outreach.record_of_processing.entry IS 'the answer, as JSON';
