package io.dlgemm;

import io.dlgemm.internal.dlg_fill_t;

/** Distributions of {@link Testing#fill}: the suite's seeded, language-neutral generator. */
public enum Fill {
  /** Uniform in [lo, hi). */
  UNIFORM(dlg_fill_t.DLG_FILL_UNIFORM),
  /** Normal with mean lo and standard deviation hi. */
  NORMAL(dlg_fill_t.DLG_FILL_NORMAL),
  /** Integers uniform in [lo, hi] (int32 and uint8 tensors). */
  INT(dlg_fill_t.DLG_FILL_INT);

  private final int value;

  Fill(int value) {
    this.value = value;
  }

  /** The C value. */
  public int value() {
    return value;
  }
}
