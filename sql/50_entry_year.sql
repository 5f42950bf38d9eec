SET datestyle = ISO;
-- Expected HE Entry Year around each nation's cutoff, and academic years.
SELECT nation, dob, outreach.expected_he_entry_year(dob, nation) AS entry_year
FROM (VALUES
  ('england', date '2006-08-31'), ('england', '2006-09-01'), ('england', '2007-08-31'), ('england', '2007-09-01'),
  ('england', '2008-02-29'), ('wales', '2006-09-01'), ('wales', '2007-08-31'),
  ('scotland', '2006-02-28'), ('scotland', '2006-03-01'), ('scotland', '2007-02-28'), ('scotland', '2007-03-01'),
  ('scotland', '2008-02-29'), ('northern_ireland', '2006-07-01'), ('northern_ireland', '2006-07-02'),
  ('northern_ireland', '2007-07-01'), ('northern_ireland', '2007-07-02'), ('Northern_Ireland', '2007-07-02'),
  ('ENGLAND', '2006-09-01')
) AS t(nation, dob);

SELECT outreach.expected_he_entry_year('2006-09-01') AS default_is_england,
       outreach.expected_he_entry_year(NULL) IS NULL AS strict;
SELECT regress.try($$SELECT outreach.expected_he_entry_year('2007-01-01', 'france')::text$$);
SELECT regress.try($$SELECT outreach.expected_he_entry_year('2007-01-01', '')::text$$);
SELECT regress.try($$SELECT outreach.expected_he_entry_year('infinity')::text$$);

-- Every day of a cohort maps to the same year (England: 1 Sep 2006 .. 31 Aug 2007).
SELECT outreach.expected_he_entry_year(d::date) AS entry_year, min(d::date), max(d::date), count(*)
FROM generate_series(date '2006-06-01', date '2007-11-30', interval '1 day') AS g(d)
GROUP BY 1 ORDER BY 1;

SELECT d, outreach.academic_year(d), outreach.academic_year_label(d)
FROM (VALUES (date '2025-08-31'), ('2025-09-01'), ('2028-02-29'), ('1999-12-31'), ('2009-09-01')) AS t(d);
SELECT outreach.academic_year_label(2025), outreach.academic_year_label(1999), outreach.academic_year_label(2009);
