import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../logger.js";
import { StudyService } from "../../service/study-service.js";
import { SqliteStorage } from "../../storage/sqlite/sqlite-storage.js";
import { toyProblem } from "../../testing/pbt-problems.js";

describe("pbt options through the service", () => {
  let storage: SqliteStorage;
  let svc: StudyService;

  beforeEach(async () => {
    storage = new SqliteStorage({ path: ":memory:" });
    svc = await StudyService.open({ storage, logger: silentLogger(), clock: () => 1_000_000, reapIntervalMs: 0 });
  });
  afterEach(async () => {
    await svc.close();
    await storage.close();
  });

  const create = (name: string, strategy: string, retry?: Record<string, unknown>) =>
    svc.createStudy({ name, space: toyProblem.space, direction: "maximize", strategy: { name: strategy, options: { population_size: 2 } }, ...(retry ? { retry } : {}) });

  it("refuses a retry policy it would ignore (it refills lost members itself), naming max_failures", async () => {
    for (const strategy of ["pbt", "pb2"])
      for (const retry of [{ max_retries: 3 }, { retry_on_fail: true }, { keep_intermediate: true }]) {
        const key = Object.keys(retry)[0] as string;
        await expect(create(`r-${strategy}-${key}`, strategy, retry)).rejects.toMatchObject({
          code: "INVALID_ARGUMENT",
          message: expect.stringMatching(new RegExp(`strategy '${strategy}' replaces lost trials itself.*${key}=.*would be ignored.*max_failures`)),
        });
      }
    // Asking for nothing is not refused; other strategies keep their retries.
    await create("zero", "pbt", { max_retries: 0, retry_on_fail: false });
    await svc.createStudy({ name: "rnd", space: toyProblem.space, strategy: "random", retry: { max_retries: 3 } });
    await expect(svc.ask({ study: "zero", max_retries: 2 })).rejects.toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringMatching(/ask's max_retries=2 would be ignored/) });
    expect((await svc.ask({ study: "zero", max_retries: 0 })).trial.system_attrs.pbt_member).toBe(0);
    expect((await svc.ask({ study: "rnd", max_retries: 2 })).trial.system_attrs.max_retries).toBe(2);
  });
});
