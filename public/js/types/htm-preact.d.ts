// Types for the vendored htm/preact standalone bundle (public/vendor/htm-preact.js),
// for `tsc --checkJs` only; the Makefile copies this file beside the bundle.
export type VNode = { type: unknown; props: Record<string, unknown>; key?: unknown };
export type Child = VNode | string | number | boolean | null | undefined | Child[];
export function html(strings: TemplateStringsArray, ...values: unknown[]): VNode;
export function render(tree: Child, parent: Element): void;
export function h(type: unknown, props: Record<string, unknown> | null, ...children: Child[]): VNode;
export type StateUpdater<S> = (value: S | ((prev: S) => S)) => void;
export function useState<S>(initial: S | (() => S)): [S, StateUpdater<S>];
export function useReducer<S, A>(reducer: (state: S, action: A) => S, initial: S): [S, (action: A) => void];
export function useEffect(effect: () => void | (() => void), deps?: unknown[]): void;
export function useLayoutEffect(effect: () => void | (() => void), deps?: unknown[]): void;
export function useRef<T>(initial: T): { current: T };
export function useMemo<T>(factory: () => T, deps: unknown[]): T;
export function useCallback<T extends (...args: never[]) => unknown>(fn: T, deps: unknown[]): T;
