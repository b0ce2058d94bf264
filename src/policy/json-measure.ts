/**
 * Depth and size of a parsed JSON value, measured iteratively (an explicit stack, never
 * recursion): no input can overflow the call stack. The admission limits (limits.ts) use
 * them before any rule runs. Pure: no I/O.
 */

interface Frame {
  readonly value: unknown;
  readonly depth: number;
  readonly key: string | number;
  readonly parent: Frame | undefined;
}

function keysOf(frame: Frame): (string | number)[] {
  const keys: (string | number)[] = [];
  for (let f: Frame | undefined = frame; f !== undefined; f = f.parent) keys.push(f.key);
  return keys.reverse();
}

/**
 * The path of the first object or list nested deeper than `limit` (`{}` at the root is 1
 * deep), or undefined. Iterative: an explicit stack, so no input can overflow the call stack.
 */
export function findTooDeep(root: unknown, limit: number, rootKey: string): (string | number)[] | undefined {
  const stack: Frame[] = [{ value: root, depth: 0, key: rootKey, parent: undefined }];
  for (let frame = stack.pop(); frame !== undefined; frame = stack.pop()) {
    const { value } = frame;
    if (typeof value !== 'object' || value === null) continue;
    const depth = frame.depth + 1;
    if (depth > limit) return keysOf(frame);
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) {
        const child: unknown = value[i];
        if (typeof child === 'object' && child !== null)
          stack.push({ value: child, depth, key: i, parent: frame });
      }
    } else {
      for (const [key, child] of Object.entries(value)) {
        if (typeof child === 'object' && child !== null)
          stack.push({ value: child, depth, key, parent: frame });
      }
    }
  }
  return undefined;
}

/**
 * Characters a step adds to the key path of what it leads to: the key and a separator, or
 * two for a list index (its digits are bounded by the depth limit, as the indices are).
 */
function stepChars(key: string | number): number {
  return typeof key === 'string' ? key.length + 1 : 2;
}

/**
 * The path of the first value whose keys on the way, counted as `measureObject` counts
 * them, hold more than `limit` characters, or undefined. Iterative, as findTooDeep.
 */
export function findLongKeyPath(
  root: unknown,
  limit: number,
  rootKey: string,
): (string | number)[] | undefined {
  const stack: Array<{ frame: Frame; chars: number }> = [
    { frame: { value: root, depth: 0, key: rootKey, parent: undefined }, chars: 0 },
  ];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const { frame, chars } = next;
    const { value } = frame;
    if (typeof value !== 'object' || value === null) continue;
    const entries: Array<[string | number, unknown]> = Array.isArray(value)
      ? value.map((child: unknown, i) => [i, child])
      : Object.entries(value);
    for (const [key, child] of entries) {
      const step: Frame = { value: child, depth: frame.depth + 1, key, parent: frame };
      const total = chars + stepChars(key);
      if (total > limit) return keysOf(step);
      stack.push({ frame: step, chars: total });
    }
  }
  return undefined;
}

/** What `measureObject` found. */
export interface ObjectMeasure {
  /** True when some object or list is nested deeper than the depth limit. */
  readonly tooDeep: boolean;
  /** True when the keys on the way to some value hold more characters than the key-path limit. */
  readonly longKeyPath: boolean;
  /** Values counted (objects, lists, scalars); counting stops once past the node limit. */
  readonly nodes: number;
}

/**
 * Depth, size and longest key path of a JSON value in one iterative pass, allocating no
 * frame per value (three parallel stacks), stopping as soon as a limit is passed. A key
 * path is what every rule builds the JSON path of a finding from: bounding it bounds every
 * path and denial line, whatever the keys (a 2.5 MB body of 25 keys of 100,000 characters
 * gave paths of 2.5 MB each, and copying them into the answer ran the heap out).
 */
export function measureObject(
  root: unknown,
  maxDepth: number,
  maxNodes: number,
  maxKeyPathChars = Infinity,
): ObjectMeasure {
  const values: unknown[] = [root];
  const depths: number[] = [0];
  const chars: number[] = [0];
  let nodes = 0;
  while (values.length > 0) {
    const value = values.pop();
    const depth = (depths.pop() ?? 0) + 1;
    const pathChars = chars.pop() ?? 0;
    nodes += 1;
    if (nodes > maxNodes) return { tooDeep: false, longKeyPath: false, nodes };
    if (typeof value !== 'object' || value === null) continue;
    if (depth > maxDepth) return { tooDeep: true, longKeyPath: false, nodes };
    if (Array.isArray(value)) {
      const below = pathChars + 2;
      if (value.length > 0 && below > maxKeyPathChars) return { tooDeep: false, longKeyPath: true, nodes };
      for (const child of value) {
        if (typeof child === 'object' && child !== null) {
          values.push(child);
          depths.push(depth);
          chars.push(below);
        } else nodes += 1;
      }
      continue;
    }
    // Keys and values in the same (own property) order: two builtins beat a keyed load per key.
    const keys = Object.keys(value);
    const children = Object.values(value);
    for (let i = 0; i < keys.length; i += 1) {
      const below = pathChars + (keys[i] as string).length + 1;
      if (below > maxKeyPathChars) return { tooDeep: false, longKeyPath: true, nodes };
      const child = children[i];
      if (typeof child === 'object' && child !== null) {
        values.push(child);
        depths.push(depth);
        chars.push(below);
      } else nodes += 1;
    }
  }
  return { tooDeep: false, longKeyPath: false, nodes };
}
