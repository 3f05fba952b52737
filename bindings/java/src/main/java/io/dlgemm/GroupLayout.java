package io.dlgemm;

import io.dlgemm.internal.dlg_group_layout_t;

/**
 * How rows of the M-grouped contiguous layout map to groups ({@code dlg_group_layout_t}).
 * {@link #of(int)} also makes a layout of any other value, which the library rejects.
 */
public final class GroupLayout {
  /** int32 [M]: the group of each row, -1 for a padding row (neither read nor written). */
  public static final GroupLayout ROW_IDS =
      new GroupLayout(dlg_group_layout_t.DLG_GROUP_LAYOUT_ROW_IDS, "ROW_IDS");
  /** int32 [G + 1]: non-decreasing row offsets; rows [off[g], off[g+1]) are group g. */
  public static final GroupLayout OFFSETS =
      new GroupLayout(dlg_group_layout_t.DLG_GROUP_LAYOUT_OFFSETS, "OFFSETS");

  private final int value;
  private final String name;

  private GroupLayout(int value, String name) {
    this.value = value;
    this.name = name;
  }

  /** The C value. */
  public int value() {
    return value;
  }

  /** The constant's name, or {@code "GroupLayout(7)"}. */
  public String name() {
    return name;
  }

  /** The layout with C value {@code value}: one of the constants, or an unknown one. */
  public static GroupLayout of(int value) {
    if (value == ROW_IDS.value) {
      return ROW_IDS;
    }
    if (value == OFFSETS.value) {
      return OFFSETS;
    }
    return new GroupLayout(value, "GroupLayout(" + value + ")");
  }

  /**
   * The layout named {@code "ROW_IDS"} or {@code "OFFSETS"} (case-insensitive).
   *
   * @throws DlGemmException (INVALID_ARGUMENT) for any other name
   */
  public static GroupLayout fromName(String name) {
    if (ROW_IDS.name.equalsIgnoreCase(name)) {
      return ROW_IDS;
    }
    if (OFFSETS.name.equalsIgnoreCase(name)) {
      return OFFSETS;
    }
    throw new DlGemmException(Status.INVALID_ARGUMENT,
        "layout_kind: unknown group layout '" + name + "'");
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof GroupLayout && ((GroupLayout) o).value == value;
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
