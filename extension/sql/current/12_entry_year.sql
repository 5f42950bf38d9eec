-- Expected HE Entry Year and academic years.

CREATE OR REPLACE FUNCTION outreach.expected_he_entry_year(date_of_birth date, nation text DEFAULT 'england') RETURNS integer
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.expected_he_entry_year(date, text) IS
  'year a pupil born on this date is expected to enter HE (england and wales: 1 Sep cutoff; scotland: 1 Mar; northern_ireland: 2 Jul)';

CREATE OR REPLACE FUNCTION outreach.academic_year(d date) RETURNS integer
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.academic_year(date) IS 'starting year of the English academic year (1 Sep - 31 Aug) containing the date';

CREATE OR REPLACE FUNCTION outreach.academic_year_label(start_year integer) RETURNS text
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.academic_year_label(integer) IS 'label of an academic year, e.g. 2025/26 for 2025';

CREATE OR REPLACE FUNCTION outreach.academic_year_label(d date) RETURNS text
  AS 'MODULE_PATHNAME', 'academic_year_label_of_date' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.academic_year_label(date) IS 'label of the academic year containing the date, e.g. 2025/26';
