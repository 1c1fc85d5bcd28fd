/** Key files: Z85 both ways, a secret key's public key, and the refusals of mismatched or empty key files. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { curveKeyPair } from "zeromq";
import { curvePublicOf, readAllowList, readServerKeys, writeKeyPair, z85Decode, z85Encode } from "./curve.js";

const dir = mkdtempSync(join(tmpdir(), "tuneport-curve-unit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("Z85 and CURVE keys", () => {
  it("decodes the ZeroMQ spec's example and round-trips random bytes", () => {
    // RFC 32 (Z85): 0x86 4F D2 6F B5 59 F7 5B encodes as "HelloWorld".
    expect([...z85Decode("HelloWorld")]).toEqual([0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b]);
    expect(z85Encode(Uint8Array.from([0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b]))).toBe("HelloWorld");
    for (let i = 0; i < 20; i++) {
      const bytes = Uint8Array.from({ length: 32 }, () => Math.floor(Math.random() * 256));
      expect([...z85Decode(z85Encode(bytes))]).toEqual([...bytes]);
    }
    expect(() => z85Decode("Hello")).not.toThrow();
    expect(() => z85Decode("Hell~")).toThrow(/not a Z85 character/);
    expect(() => z85Decode("Hell")).toThrow(/multiple of 5/);
  });

  it("derives libzmq's public key from its secret key", () => {
    for (let i = 0; i < 20; i++) {
      const { publicKey, secretKey } = curveKeyPair();
      expect(curvePublicOf(secretKey)).toBe(publicKey);
    }
  });

  it("refuses a secret key file whose public key belongs to another pair", () => {
    const ok = writeKeyPair(dir, "server");
    expect(readServerKeys(join(dir, "server.key")).publicKey).toBe(ok.publicKey);
    const a = curveKeyPair();
    const b = curveKeyPair();
    const mixed = join(dir, "mixed.key");
    writeFileSync(mixed, `metadata\ncurve\n    public-key = "${b.publicKey}"\n    secret-key = "${a.secretKey}"\n`);
    expect(() => readServerKeys(mixed)).toThrow(/its public-key is not the public key of its secret-key/);
  });

  it("refuses an allow-list folder holding a .pub file without a key, instead of skipping that client", () => {
    const clients = join(dir, "clients");
    mkdirSync(clients);
    const alice = writeKeyPair(clients, "alice");
    expect([...readAllowList(clients)]).toEqual([alice.publicKey]);
    writeFileSync(join(clients, "bob.pub"), `metadata\ncurve\n    public key: ${curveKeyPair().publicKey}\n`);
    expect(() => readAllowList(clients)).toThrow(/bob\.pub holds no CURVE public key/);
    writeFileSync(join(clients, "notes.txt"), "not a key file, and not read\n");
    rmSync(join(clients, "bob.pub"));
    expect([...readAllowList(clients)]).toEqual([alice.publicKey]);
  });
});
