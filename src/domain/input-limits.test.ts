import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { workerIdentity } from "./worker.js";
import fc from "fast-check";
import {
  CONTAINER_ALLOWANCE,
  JSON_CHARS_PER_CONTAINER,
  MAX_NESTING,
  checkArgumentLimits,
  clipText,
  findForbiddenKey,
  findIllFormedString,
  jsonTextDuplicateKey,
  jsonTextNestingExceeds,
  jsonTextShapeProblem,
  maxJsonContainers,
  nestingExceeds,
} from "./input-limits.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

/** Heap bytes still in use after a full collection. */
function liveHeap(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe("clipText", () => {
  it("cuts to the length asked, and leaves short strings as they are", () => {
    expect(clipText("abcdef", 3)).toBe("abc");
    expect(clipText("ab", 3)).toBe("ab");
    expect(clipText("é😀x", 3)).toBe("é😀");
  });

  it("never cuts a character beyond U+FFFF in half: no lone surrogate is left at the end", () => {
    expect(clipText("ab😀", 3)).toBe("ab");
    expect(clipText("ab😀c", 4)).toBe("ab😀");
    expect(clipText("😀😀", 1)).toBe("");
    expect(clipText(`${"a".repeat(199)}😀`, 200)).toBe("a".repeat(199));
  });

  it("keeps none of the long string it was cut from alive (a 1 MB hello host cost 1 MB per identity)", () => {
    const before = liveHeap();
    const kept: unknown[] = [];
    // 100 distinct 1 MB strings, as 100 hellos would bring; only the clipped identities are kept.
    for (let i = 0; i < 100; i++) kept.push(workerIdentity("zmq", { host: `${i}:${"h".repeat(1 << 20)}` }));
    const grown = liveHeap() - before;
    expect(kept).toHaveLength(100);
    // Retained parents would be 100 MB; the identities themselves are a few kB.
    expect(grown).toBeLessThan(10 << 20);
  });
});

describe("jsonTextNestingExceeds", () => {
  it("counts the brackets of arrays and objects, not those inside strings or escaped quotes", () => {
    expect(jsonTextNestingExceeds("[[1]]", 2)).toBe(false);
    expect(jsonTextNestingExceeds("[[[1]]]", 2)).toBe(true);
    expect(jsonTextNestingExceeds('{"a":{"b":[]}}', 3)).toBe(false);
    expect(jsonTextNestingExceeds('{"a":{"b":[{}]}}', 3)).toBe(true);
    expect(jsonTextNestingExceeds('["[[[[", "\\"", "\\\\", {"k[[[": "x\\"[["}]', 2)).toBe(false);
    expect(jsonTextNestingExceeds('[[],[],[],[]]', 2)).toBe(false);
    // What JSON.parse took a second over is read at once, and refused.
    expect(jsonTextNestingExceeds("[".repeat(1_000_000) + "]".repeat(1_000_000), MAX_NESTING)).toBe(true);
  });
});

describe("jsonTextShapeProblem", () => {
  it("refuses more maps and arrays than maxJsonContainers(characters), empty ones included, and no fewer", () => {
    expect(maxJsonContainers(800)).toBe(CONTAINER_ALLOWANCE + 800 / JSON_CHARS_PER_CONTAINER);
    // `{"a":[{},{},…]}` padded with spaces to `chars` characters: k + 2 containers.
    const text = (k: number, chars: number) => {
      const t = `{"a":[${new Array(k).fill("{}").join(",")}]}`;
      return t + " ".repeat(chars - t.length);
    };
    for (const chars of [3000, 3007]) {
      const max = maxJsonContainers(chars);
      expect(jsonTextShapeProblem(text(max - 2, chars), MAX_NESTING)).toBeNull();
      expect(jsonTextShapeProblem(text(max - 1, chars), MAX_NESTING)).toBe("too-many-containers");
    }
    // Brackets inside strings are no containers; the depth is still refused first where it comes first.
    expect(jsonTextShapeProblem(`["${"[]{}".repeat(1000)}"]`, MAX_NESTING, 1)).toBeNull();
    expect(jsonTextShapeProblem("[[[[]]]]", 3, 3)).toBe("too-deep");
    expect(jsonTextShapeProblem("[[],[],[]]", 3, 3)).toBe("too-many-containers");
    expect(jsonTextShapeProblem(`[${"[],".repeat(100_000)}[]]`, MAX_NESTING)).toBe("too-many-containers");
  });
});

describe("the walks over untrusted values", () => {
  it("name the path of what they refuse, at any depth and position", () => {
    const v = JSON.parse('{"a":[1,{"b":{"__proto__":1}}],"c":["\\ud800"],"d":{"\\udc00":1}}');
    expect(findForbiddenKey(v, "$")).toBe("$.a[1].b");
    expect(findIllFormedString({ c: v.c }, "$")).toBe("$.c[0]");
    expect(findIllFormedString({ d: v.d }, "$")).toBe("a key in $.d");
    expect(findIllFormedString("\ud800", "r")).toBe("r");
    expect(nestingExceeds([[[]]], 3)).toBe(false);
    expect(nestingExceeds([[[[]]]], 3)).toBe(true);
    expect(() => checkArgumentLimits("op", { a: [], c: v.c })).toThrow(/op: arguments\.c\[0\] is not well-formed Unicode/);
    expect(() => checkArgumentLimits("op", { a: v.a })).toThrow(/op: arguments\.a\[1\]\.b has a key '__proto__'/);
  });
});

describe("checkArgumentLimits on a large value", () => {
  it("walks the value once for its three checks together (a walk per check, each pushing every value with its path, held the event loop ~24 s on 2 million numbers)", () => {
    const values = new Array<number>(200_000).fill(0);
    let reads = 0;
    const counted = new Proxy(values, {
      get(target, key, receiver) {
        if (typeof key === "string" && /^\d+$/.test(key)) reads++;
        return Reflect.get(target, key, receiver);
      },
    });
    expect(() => checkArgumentLimits("op", { a: counted, b: { c: ["fine"] } })).not.toThrow();
    // One walk reads an element twice (is it a container; is it a string); three walks read it three times or more.
    expect(reads).toBeLessThanOrEqual(2 * values.length);
  });
});


describe("jsonTextDuplicateKey", () => {
  it("finds a key one object holds twice, at any depth, decoded", () => {
    expect(jsonTextDuplicateKey('{"study":"a","study":"b"}')).toBe("study");
    expect(jsonTextDuplicateKey('{"a":1,"\\u0061":2}')).toBe("a");
    expect(jsonTextDuplicateKey('[1,{"x":[{"k":1, "k" :2}]}]')).toBe("k");
    expect(jsonTextDuplicateKey('{"a\\"b":1,"a\\u0022b":2}')).toBe('a"b');
  });

  it("does not take equal keys of different objects, string values, or escaped quotes for duplicates", () => {
    expect(jsonTextDuplicateKey('{"a":{"a":1},"b":{"a":2}}')).toBeNull();
    expect(jsonTextDuplicateKey('{"a":"a","b":"a"}')).toBeNull();
    expect(jsonTextDuplicateKey('{"a":["a","a"],"b":[{"a":1},{"a":1}]}')).toBeNull();
    expect(jsonTextDuplicateKey('{"a\\\\":1,"a":2,"s":"\\\\\\",\\"a\\":"}')).toBeNull();
    expect(jsonTextDuplicateKey('{"a\\nb":1,"a\\u000ab":2}')).toBe("a\nb");
    expect(jsonTextDuplicateKey('"x"')).toBeNull();
    expect(jsonTextDuplicateKey("{}")).toBeNull();
  });

  it("agrees with a reference on random objects written with repeated keys", () => {
    type Node = { kind: "obj"; entries: [string, Node][] } | { kind: "arr"; items: Node[] } | { kind: "leaf"; value: unknown };
    const key = fc.constantFrom("a", "b", "\\", '"', "é", "😀", "a\nb", "", "__x");
    const { node } = fc.letrec<{ node: Node }>((tie) => ({
      node: fc.oneof(
        { depthSize: "small", withCrossShrink: true },
        fc.record({ kind: fc.constant("leaf" as const), value: fc.oneof(fc.string(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null)) }),
        fc.record({ kind: fc.constant("obj" as const), entries: fc.array(fc.tuple(key, tie("node")), { maxLength: 4 }) }),
        fc.record({ kind: fc.constant("arr" as const), items: fc.array(tie("node"), { maxLength: 4 }) }),
      ),
    }));
    /** JSON text, each key escaped one of two ways (plain or all \u escapes), with spaces. */
    const write = (n: Node, alt: boolean): string =>
      n.kind === "leaf"
        ? JSON.stringify(n.value)
        : n.kind === "arr"
          ? `[ ${n.items.map((x) => write(x, alt)).join(" , ")} ]`
          : `{ ${n.entries
              .map(([k, v], j) => `${(alt && j % 2 === 1) ? `"${Array.from({ length: k.length }, (_, u) => `\\u${k.charCodeAt(u).toString(16).padStart(4, "0")}`).join("")}"` : JSON.stringify(k)} : ${write(v, alt)}`)
              .join(" , ")} }`;
    const hasDuplicate = (n: Node): boolean =>
      n.kind === "obj" ? new Set(n.entries.map(([k]) => k)).size < n.entries.length || n.entries.some(([, v]) => hasDuplicate(v)) : n.kind === "arr" && n.items.some(hasDuplicate);
    fc.assert(
      fc.property(node, fc.boolean(), (n, alt) => {
        const text = write(n, alt);
        JSON.parse(text); // the scanner reads text JSON.parse accepted
        expect(jsonTextDuplicateKey(text) !== null).toBe(hasDuplicate(n));
      }),
      { numRuns: 2000 },
    );
  });
});
