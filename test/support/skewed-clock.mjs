// Preloaded with `node --import` into a child process whose wall clock should be wrong, as
// libfaketime would make it: Date (and Date.now) run STRATO_TEST_CLOCK_SKEW_MS ahead (or behind,
// if negative). Monotonic timers are left alone. Test support only; production code is unchanged.
const skewMs = Number(process.env.STRATO_TEST_CLOCK_SKEW_MS ?? 0);
const RealDate = Date;

class SkewedDate extends RealDate {
  constructor(...args) {
    if (args.length === 0) super(RealDate.now() + skewMs);
    else super(...args);
  }

  static now() {
    return RealDate.now() + skewMs;
  }
}

globalThis.Date = SkewedDate;
