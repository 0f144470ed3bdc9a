// A group member in its own process, for tests that kill it for real
// (SIGKILL) and restart it on its durable store. Prints "READY <address>".
//   deno run -A tests/groups_member.ts '{"net":..,"seed":..,"key":..,"dir":..,"port":..,"peers":[..]}'
import { Endpoint, type NetworkId, SecretKey } from "@mosaik/transport";
import { FileStorage, Groups } from "@mosaik/groups";
import { KVStore } from "@mosaik/groups/testing";

const args = JSON.parse(Deno.args[0]) as {
  net: NetworkId;
  seed: string;
  key: string;
  dir: string;
  port: number;
  peers: string[];
  config?: Record<string, unknown>;
};
const endpoint = await Endpoint.create({
  networkId: args.net,
  secretKey: SecretKey.from(args.seed),
  port: args.port,
});
const groups = new Groups(endpoint);
groups.join({
  key: args.key,
  stateMachine: new KVStore(),
  storage: FileStorage.open(args.dir),
  config: { peers: args.peers, ...args.config },
});
console.log(`READY ${endpoint.address}`);
