/** True for the storage URLs the PostgreSQL backend takes. Apart from it so that choosing a backend does not load `pg`. */
export function isPostgresUrl(s: string): boolean {
  return /^postgres(ql)?:\/\//.test(s);
}

/**
 * A storage location for logs: a PostgreSQL URL's password replaced by `***`, wherever the URL
 * holds one: in the user part (up to the last `@` before the host, since a password may hold a
 * raw `@` that the URL parser, and so `pg`, reads as part of it) and in `password=` and
 * `sslpassword=` query parameters (which `pg` takes too). Other locations are returned as given.
 */
export function redactStorageLocation(location: string): string {
  if (!isPostgresUrl(location)) return location;
  return location
    .replace(/^(postgres(?:ql)?:\/\/[^:@/?#]*:)[^/?#]*@/, "$1***@")
    .replace(/([?&](?:ssl)?password=)[^&#]*/gi, "$1***");
}
