// Internal glue between the public handles and their stores.
import type { Machine } from "./_machine.ts";
import { type HandleRole, Store, storeOf } from "./_store.ts";
import type { Collection, OpenedStore } from "./collection.ts";
import { WriteError } from "./errors.ts";
import type { CollectionKind, CollectionNetwork, CollectionOptions, Version } from "./options.ts";
import { storeId } from "./options.ts";

/** Opens the store and returns the token for a handle constructor. */
export function openStore(
  net: CollectionNetwork,
  kind: CollectionKind,
  name: string,
  machine: (name: string) => Machine<unknown>,
  params: string,
  role: HandleRole,
  options: CollectionOptions = {},
): OpenedStore {
  const id = storeId(kind, name, options.schema);
  const smName = `mosaik/collections/${kind}/1${params}`;
  const store = Store.open(net.groups, id, () => machine(smName), role, options);
  return { storeId: id, role, store } as OpenedStore;
}

/** The machine of a handle (internal). */
export function machineOf<M extends Machine<unknown>>(handle: Collection): M {
  return storeOf<M>(handle).machine;
}

/** Replicates a write of a handle (internal). */
export function write<T>(
  handle: Collection,
  command: unknown[],
  input: T,
): Promise<{ version: Version; result: unknown }> {
  if (handle.closed) {
    return Promise.reject(new WriteError("closed", input, "the collection handle is closed"));
  }
  return storeOf(handle).execute(command, input);
}
