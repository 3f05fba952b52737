package io.dlgemm;

import io.dlgemm.internal.NativeApi;
import io.dlgemm.internal.dlg_recipe_t;

/**
 * A GEMM scale recipe ({@code dlg_recipe_t}); the scale layouts are described in
 * {@code include/dlgemm/gemm.h}. The four constants are the recipes the library has;
 * {@link #of(int)} also makes a recipe of any other value, which the library rejects with
 * {@link Status#INVALID_ARGUMENT} (useful to test that path).
 */
public final class Recipe {
  /** FP8 operands, per-token (1x128) scales for A and per-block (128x128) scales for B. */
  public static final Recipe FP8_1D2D = new Recipe(dlg_recipe_t.DLG_RECIPE_FP8_1D2D, "FP8_1D2D");
  /** FP8 operands, per-token (1x128) scales for both A and B. */
  public static final Recipe FP8_1D1D = new Recipe(dlg_recipe_t.DLG_RECIPE_FP8_1D1D, "FP8_1D1D");
  /** FP8 operands, one scale per tensor (or per group). */
  public static final Recipe FP8_PER_TENSOR =
      new Recipe(dlg_recipe_t.DLG_RECIPE_FP8_PER_TENSOR, "FP8_PER_TENSOR");
  /** bfloat16 operands, no scales. */
  public static final Recipe BF16 = new Recipe(dlg_recipe_t.DLG_RECIPE_BF16, "BF16");

  private static final Recipe[] KNOWN = {FP8_1D2D, FP8_1D1D, FP8_PER_TENSOR, BF16};

  private final int value;
  private final String name;

  private Recipe(int value, String name) {
    this.value = value;
    this.name = name;
  }

  /** The C value. */
  public int value() {
    return value;
  }

  /** The constant's name ({@code "FP8_1D2D"}), or {@code "Recipe(99)"}. */
  public String name() {
    return name;
  }

  /** The library's own name of the recipe. */
  public String cName() {
    return NativeApi.dlg_recipe_name(value);
  }

  /** The recipe with C value {@code value}: one of the constants, or an unknown one. */
  public static Recipe of(int value) {
    for (Recipe r : KNOWN) {
      if (r.value == value) {
        return r;
      }
    }
    return new Recipe(value, "Recipe(" + value + ")");
  }

  /**
   * The recipe named {@code name} ({@code "FP8_1D2D"}, {@code "FP8_1D1D"},
   * {@code "FP8_PER_TENSOR"}, {@code "BF16"}; case-insensitive).
   *
   * @throws DlGemmException (INVALID_ARGUMENT) for any other name
   */
  public static Recipe fromName(String name) {
    for (Recipe r : KNOWN) {
      if (r.name.equalsIgnoreCase(name)) {
        return r;
      }
    }
    throw new DlGemmException(Status.INVALID_ARGUMENT, "recipe: unknown recipe '" + name + "'");
  }

  /** All four recipes of the library. */
  public static Recipe[] values() {
    return KNOWN.clone();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Recipe && ((Recipe) o).value == value;
  }

  @Override
  public int hashCode() {
    return value;
  }

  @Override
  public String toString() {
    return name;
  }
}
