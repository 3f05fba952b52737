package io.dlgemm.conformance;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A small JSON reader (RFC 8259; numbers as Double, objects as insertion-ordered maps, arrays
 * as lists) and a string escaper: all the runner needs, no dependency.
 */
final class Json {
  private final String s;
  private int at;

  private Json(String s) {
    this.s = s;
  }

  static Object parse(Path file) throws IOException {
    return parse(Files.readString(file, StandardCharsets.UTF_8));
  }

  static Object parse(String text) {
    Json p = new Json(text);
    p.space();
    Object v = p.value();
    p.space();
    if (p.at != p.s.length()) {
      throw p.error("trailing characters");
    }
    return v;
  }

  private IllegalArgumentException error(String what) {
    return new IllegalArgumentException(what + " at offset " + at);
  }

  private void space() {
    while (at < s.length() && " \t\r\n".indexOf(s.charAt(at)) >= 0) {
      at++;
    }
  }

  private void expect(char c) {
    if (at >= s.length() || s.charAt(at) != c) {
      throw error("expected '" + c + "'");
    }
    at++;
  }

  private Object value() {
    if (at >= s.length()) {
      throw error("unexpected end");
    }
    char c = s.charAt(at);
    switch (c) {
      case '{':
        return object();
      case '[':
        return array();
      case '"':
        return string();
      case 't':
        return word("true", Boolean.TRUE);
      case 'f':
        return word("false", Boolean.FALSE);
      case 'n':
        return word("null", null);
      default:
        return number();
    }
  }

  private Object word(String w, Object v) {
    if (!s.startsWith(w, at)) {
      throw error("bad literal");
    }
    at += w.length();
    return v;
  }

  private Map<String, Object> object() {
    Map<String, Object> m = new LinkedHashMap<>();
    expect('{');
    space();
    if (at < s.length() && s.charAt(at) == '}') {
      at++;
      return m;
    }
    while (true) {
      space();
      String k = string();
      space();
      expect(':');
      space();
      m.put(k, value());
      space();
      if (at < s.length() && s.charAt(at) == ',') {
        at++;
        continue;
      }
      expect('}');
      return m;
    }
  }

  private List<Object> array() {
    List<Object> l = new ArrayList<>();
    expect('[');
    space();
    if (at < s.length() && s.charAt(at) == ']') {
      at++;
      return l;
    }
    while (true) {
      space();
      l.add(value());
      space();
      if (at < s.length() && s.charAt(at) == ',') {
        at++;
        continue;
      }
      expect(']');
      return l;
    }
  }

  private String string() {
    expect('"');
    StringBuilder b = new StringBuilder();
    while (true) {
      if (at >= s.length()) {
        throw error("unterminated string");
      }
      char c = s.charAt(at++);
      if (c == '"') {
        return b.toString();
      }
      if (c != '\\') {
        b.append(c);
        continue;
      }
      if (at >= s.length()) {
        throw error("bad escape");
      }
      char e = s.charAt(at++);
      switch (e) {
        case 'n':
          b.append('\n');
          break;
        case 't':
          b.append('\t');
          break;
        case 'r':
          b.append('\r');
          break;
        case 'b':
          b.append('\b');
          break;
        case 'f':
          b.append('\f');
          break;
        case 'u':
          if (at + 4 > s.length()) {
            throw error("bad \\u escape");
          }
          b.append((char) Integer.parseInt(s.substring(at, at + 4), 16));
          at += 4;
          break;
        default:
          b.append(e); // \" \\ \/
      }
    }
  }

  private Double number() {
    int start = at;
    while (at < s.length() && "+-0123456789.eE".indexOf(s.charAt(at)) >= 0) {
      at++;
    }
    if (start == at) {
      throw error("unexpected character '" + s.charAt(at) + "'");
    }
    try {
      return Double.valueOf(s.substring(start, at));
    } catch (NumberFormatException e) {
      throw error("bad number");
    }
  }

  /** A JSON string literal. */
  static String quote(String v) {
    StringBuilder b = new StringBuilder("\"");
    for (int i = 0; i < v.length(); i++) {
      char c = v.charAt(i);
      if (c == '"' || c == '\\') {
        b.append('\\').append(c);
      } else if (c == '\n') {
        b.append("\\n");
      } else if (c < 0x20) {
        b.append(String.format("\\u%04x", (int) c));
      } else {
        b.append(c);
      }
    }
    return b.append('"').toString();
  }

  // ---- typed access (absent or mistyped -> null / default) ---------------------------

  @SuppressWarnings("unchecked")
  static Map<String, Object> obj(Object o) {
    return o instanceof Map ? (Map<String, Object>) o : null;
  }

  @SuppressWarnings("unchecked")
  static List<Object> list(Object o) {
    return o instanceof List ? (List<Object>) o : null;
  }

  static Object get(Object o, String key) {
    Map<String, Object> m = obj(o);
    return m == null ? null : m.get(key);
  }

  static String str(Object o, String key) {
    Object v = get(o, key);
    return v instanceof String ? (String) v : null;
  }

  static double num(Object o, String key, double fallback) {
    Object v = get(o, key);
    return v instanceof Double ? (Double) v : fallback;
  }

  /** An int list (at most 8 entries), or null. */
  static long[] dims(Object o) {
    List<Object> l = list(o);
    if (l == null || l.size() > 8) {
      return null;
    }
    long[] out = new long[l.size()];
    for (int i = 0; i < out.length; i++) {
      if (!(l.get(i) instanceof Double)) {
        return null;
      }
      out[i] = (long) (double) (Double) l.get(i);
    }
    return out;
  }
}
