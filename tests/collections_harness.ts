// Waits of the collections suites (nodes come from ./_harness.ts).
import { within } from "@mosaik/transport/testing";

/** Waits until every handle is online. */
export async function online(...handles: { when: { online(): Promise<void> } }[]): Promise<void> {
  await within(Promise.all(handles.map((h) => h.when.online())), 10_000, "online");
}

/** Waits until every handle applied `version`. */
export async function reach(
  version: number,
  ...handles: { when: { reaches(v: number): Promise<void> } }[]
): Promise<void> {
  await within(Promise.all(handles.map((h) => h.when.reaches(version))), 10_000, "reaches");
}

/** Closes handles. */
export async function closeHandles(...handles: { close(): Promise<void> }[]): Promise<void> {
  await Promise.all(handles.map((h) => h.close()));
}
