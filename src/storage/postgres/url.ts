/** True for the storage URLs the PostgreSQL backend takes. Apart from it so that choosing a backend does not load `pg`. */
export function isPostgresUrl(s: string): boolean {
  return /^postgres(ql)?:\/\//.test(s);
}
