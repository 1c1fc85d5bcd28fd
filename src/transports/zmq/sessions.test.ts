/**
 * The session table's bound against a `hello` that waits its turn: the order of calls the ZeroMQ
 * server makes (`of` at a request's arrival, `hello` when it starts, `idle` when the connection has
 * nothing in flight) replayed without sockets, so the interleaving that a burst of other connections
 * makes only sometimes is made every time.
 */
import { describe, expect, it } from "vitest";
import { Sessions } from "./sessions.js";

describe("Sessions", () => {
  it("names a connection pushed out of the bound between its hello's arrival and its start (it stayed anonymous)", () => {
    const inFlight = new Set<string>();
    const sessions = new Sessions(2, (client) => inFlight.has(client));
    const first = sessions.of("a");
    sessions.hello("a", first, { name: "worker-a" });
    // The second hello arrives (its session taken) and waits its turn behind the others' requests...
    inFlight.add("a");
    const second = sessions.of("a");
    // ...which say hello meanwhile, pushing 'a' out of the table of two.
    for (const o of ["b", "c", "d"]) sessions.hello(o, sessions.of(o), { name: `worker-${o}` });
    sessions.hello("a", second, { name: "worker-a" });
    inFlight.delete("a");
    sessions.idle("a");
    // Before: the hello named a session no later request took, and 'a' asked as anonymous (null).
    expect(sessions.of("a").worker?.name).toBe("worker-a");
    expect(sessions.of("b").worker).toBeNull(); // pushed out while idle: forgotten, as the bound says
  });

  it("forgets a connection pushed out while busy once it idles, and one that closed at once", () => {
    const inFlight = new Set<string>(["a"]);
    const sessions = new Sessions(1, (client) => inFlight.has(client));
    sessions.hello("a", sessions.of("a"), { name: "worker-a" });
    sessions.hello("b", sessions.of("b"), { name: "worker-b" });
    expect(sessions.of("a").worker?.name).toBe("worker-a"); // still busy: kept for its requests
    inFlight.delete("a");
    sessions.idle("a");
    expect(sessions.of("a").worker).toBeNull();
    inFlight.add("c");
    sessions.hello("c", sessions.of("c"), { name: "worker-c" });
    sessions.hello("d", sessions.of("d"), { name: "worker-d" });
    sessions.closed("c");
    expect(sessions.of("c").worker).toBeNull();
  });
});
