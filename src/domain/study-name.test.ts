import { describe, expect, it } from "vitest";
import { STUDY_NAME_MAX_CODE_POINTS, studyNameProblem, studyNameSchema, studyRefSchema } from "./study-name.js";

describe("study name grammar", () => {
  it.each([
    "mlp-digits",
    "lr sweep 2",
    "résumé", // NFC
    "学習率",
    "x".repeat(STUDY_NAME_MAX_CODE_POINTS),
    "😀".repeat(STUDY_NAME_MAX_CODE_POINTS), // 200 code points, 400 UTF-16 units
    "a.b",
    "..a",
    "v1.2_(final)+#%",
  ])("accepts %j", (name) => {
    expect(studyNameProblem(name)).toBeNull();
    expect(studyNameSchema.safeParse(name).success).toBe(true);
  });

  it.each([
    ["", /empty/],
    ["x".repeat(STUDY_NAME_MAX_CODE_POINTS + 1), /at most 200/],
    ["evil\u202Egnp.exe", /U\+202E/], // right-to-left override
    ["a\u2066b", /U\+2066/], // bidi isolate
    ["a\u200Bb", /U\+200B/], // zero-width space
    ["\uFEFFname", /U\+FEFF/],
    ["tab\there", /U\+0009/],
    ["new\nline", /U\+000A/],
    ["nul\u0000", /U\+0000/],
    ["del\u007F", /U\+007F/],
    ["c1\u0085", /U\+0085/],
    ["no\u00A0break", /U\+00A0/],
    ["line\u2028sep", /U\+2028/],
    ["private\uE000", /U\+E000/],
    ["lone\uD800", /lone surrogate/],
    [" lead", /start or end with a space/],
    ["trail ", /start or end with a space/],
    ["../etc/passwd", /'\/'/],
    ["a/b", /'\/'/],
    ["a\\b", /'\\'/],
    [".", /dots only/],
    ["..", /dots only/],
    ["e\u0301", /NFC/], // é decomposed
  ])("refuses %j", (name, why) => {
    expect(studyNameProblem(name)).toMatch(why);
    expect(studyNameSchema.safeParse(name).success).toBe(false);
  });

  it.each([
    ["", "a study name must not be empty"],
    ["x".repeat(STUDY_NAME_MAX_CODE_POINTS + 1), "a study name has at most 200 characters (code points), not 201"],
    ["x".repeat(3 * STUDY_NAME_MAX_CODE_POINTS), "a study name has at most 200 characters (code points)"],
  ])("refuses case %# with the grammar's one message", (name, message) => {
    const result = studyNameSchema.safeParse(name);
    expect(result.success ? [] : result.error.issues.map((i) => i.message)).toEqual([message]);
  });

  it("keeps lookups open to names stored before the grammar", () => {
    for (const legacy of [" padded ", "a/b", "tab\there"]) expect(studyRefSchema.safeParse(legacy).success).toBe(true);
    expect(studyRefSchema.safeParse("").success).toBe(false);
  });
});
