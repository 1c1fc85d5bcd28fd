/**
 * The PostgreSQL migrations after the eighth (postgres-schema.ts `PG_MIGRATIONS` goes on with these;
 * that file holds the first eight). Never edit a released one.
 */
export const LATER_PG_MIGRATIONS: readonly string[] = [
  // 9: studies by creation time, the order list_studies and studies_overview page in: a page reads a
  // window of keys from its cursor on (postgres-read-sql.ts `STUDY_KEYS_SQL`), not every study's
  // name and creation time (10,000 studies: 25-190 ms a page; docs/BENCHMARKS.md "A page of
  // list_studies among 10,000 studies").
  `CREATE INDEX studies_by_creation ON studies (created_at);`,
];
