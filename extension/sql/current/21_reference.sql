-- Reference data every member reads: the activity typology and schools and colleges.

CREATE TABLE outreach.activity_type (
  code text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]{1,39}$'),
  label text NOT NULL,
  category text NOT NULL,
  shipped boolean NOT NULL DEFAULT false  -- part of the extension's script (not dumped)
);
COMMENT ON TABLE outreach.activity_type IS 'typology of outreach activities; activity.activity_type takes these codes';

-- The shipped typology (after the categories widening-participation practitioners use).
INSERT INTO outreach.activity_type (code, label, category, shipped) SELECT code, label, category, true FROM (VALUES
  ('campus_visit',        'Campus visit or open day',                 'information_advice_guidance'),
  ('taster_session',      'Subject taster session or lecture',        'skills_and_attainment'),
  ('summer_school',       'Summer school (residential or day)',       'summer_school'),
  ('mentoring',           'Mentoring (in person or online)',          'mentoring'),
  ('tutoring',            'Academic tutoring',                        'skills_and_attainment'),
  ('workshop',            'Workshop in school or college',            'skills_and_attainment'),
  ('information_session', 'Information, advice and guidance session', 'information_advice_guidance'),
  ('ucas_support',        'Application and personal statement support','information_advice_guidance'),
  ('parent_carer_event',  'Event for parents and carers',             'information_advice_guidance'),
  ('teacher_cpd',         'Training for teachers and advisers',       'information_advice_guidance'),
  ('multi_intervention',  'Sustained multi-activity programme',       'multi_intervention'),
  ('competition',         'Competition or challenge',                 'skills_and_attainment'),
  ('online_course',       'Online course or resource',                'skills_and_attainment'),
  ('careers_fair',        'Careers or higher-education fair',         'information_advice_guidance'),
  ('other',               'Other activity',                           'other')
) AS shipped_types(code, label, category);

CREATE TABLE outreach.institution (
  institution_id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  urn int UNIQUE CHECK (urn BETWEEN 100000 AND 999999),           -- schools (DfE URN)
  ukprn int UNIQUE CHECK (ukprn BETWEEN 10000000 AND 19999999),   -- colleges and providers (UKPRN)
  name text NOT NULL,
  postcode outreach.uk_postcode,
  CHECK (urn IS NOT NULL OR ukprn IS NOT NULL)
);
GRANT SELECT ON outreach.activity_type, outreach.institution
  TO outreach_reader, outreach_analyst, outreach_processor, outreach_bi;
COMMENT ON TABLE outreach.institution IS 'schools (URN) and colleges or providers (UKPRN) participants attend';

-- Both tables hold data added after installation: pg_dump must copy it.
SELECT pg_catalog.pg_extension_config_dump('outreach.activity_type', 'WHERE NOT shipped');
SELECT pg_catalog.pg_extension_config_dump('outreach.institution', '');
-- An identity column's sequence is dumped only when registered itself: without its position a
-- restored database would hand out ids that are already taken.
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('outreach.institution', 'institution_id')::pg_catalog.regclass, '');
