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

/** What `measureObject` found. */
export interface ObjectMeasure {
  /** True when some object or list is nested deeper than the depth limit. */
  readonly tooDeep: boolean;
  /** Values counted (objects, lists, scalars); counting stops once past the node limit. */
  readonly nodes: number;
}

/**
 * Depth and size of a JSON value in one iterative pass, allocating no frame per value
 * (two parallel stacks), stopping as soon as a limit is passed.
 */
export function measureObject(root: unknown, maxDepth: number, maxNodes: number): ObjectMeasure {
  const values: unknown[] = [root];
  const depths: number[] = [0];
  let nodes = 0;
  while (values.length > 0) {
    const value = values.pop();
    const depth = (depths.pop() ?? 0) + 1;
    nodes += 1;
    if (nodes > maxNodes) return { tooDeep: false, nodes };
    if (typeof value !== 'object' || value === null) continue;
    if (depth > maxDepth) return { tooDeep: true, nodes };
    const children: unknown[] = Array.isArray(value) ? value : Object.values(value);
    for (const child of children) {
      if (typeof child === 'object' && child !== null) {
        values.push(child);
        depths.push(depth);
      } else nodes += 1;
    }
  }
  return { tooDeep: false, nodes };
}
