/** Removes the temporary directories a test file made (src/testing/temp-dirs.ts) once it is done. */
import { afterAll } from "vitest";
import { removeTempDirs } from "../../src/testing/temp-dirs.js";

afterAll(removeTempDirs);
