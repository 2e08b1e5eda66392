/* port.h - DPDK ports: resolving configured devices, set-up (queues, RSS), stop and close.
 *
 * A configured port is a device string: a PCI address ("0000:3b:00.0", "3b:00.0") that
 * EAL probes because it is on the allow list, or a virtual device argument
 * ("net_af_packet0,iface=veth1") that EAL creates from --vdev. Start-up therefore goes:
 * dp_port_eal_arg() for every port (EAL arguments) -> rte_eal_init() ->
 * dp_port_lookup() (device string -> ethdev port id) -> dp_port_setup().
 *
 * Every worker owns one RX and one TX queue on every port (queue = worker index). With
 * more than one queue the PMD must spread flows with RSS, symmetric so that both
 * directions of a TCP connection reach the same worker (DESIGN.md §1).
 *
 * All functions here run on the main lcore at start-up or shutdown, never on a worker.
 */
#ifndef TG_PORT_H
#define TG_PORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct rte_mempool;

struct dp_rss;

/* Tells whether <dev> is a PCI address (full "DDDD:BB:DD.F" or short "BB:DD.F").
 * Anything else is taken as a virtual device argument string. */
bool dp_port_is_pci(const char *dev);

/* Writes into <out> (<outlen> bytes) the one EAL argument that makes EAL create the
 * device <dev>: "--allow=0000:3b:00.0" for a PCI address, "--vdev=<dev>" otherwise.
 * Returns 0, or -1 when <dev> is empty or does not fit (the message goes to <err>,
 * <errlen> bytes). */
int dp_port_eal_arg(const char *dev, char *out, size_t outlen, char *err, size_t errlen);

/* Writes into <name> (<namelen> bytes) the ethdev name EAL gives the device <dev>:
 * a PCI port is named by its full address ("0000:3b:00.0"), a vdev by the part of its
 * argument string before the first comma ("net_af_packet0").
 * Returns 0, or -1 when it does not fit. */
int dp_port_dev_name(const char *dev, char *name, size_t namelen);

/* Finds the ethdev port id of device <dev> (after rte_eal_init) and stores it in
 * <*port_id>. Returns 0, or -1 with a message in <err> (<errlen> bytes) naming the
 * device when EAL did not create it. */
int dp_port_lookup(const char *dev, uint16_t *port_id, char *err, size_t errlen);

/* Configures and starts port <port_id> with <n_queues> RX and TX queues (queue q belongs
 * to worker q), rings of <rx_desc> and <tx_desc> descriptors (0: the PMD's preferred size;
 * sizes the PMD cannot take are adjusted to the nearest it can), RX buffers from <pool>.
 * With <n_queues> > 1 the PMD must support RSS: TCP over IPv4 and IPv6 is hashed with a
 * symmetric Toeplitz key (0x6d5a repeated). No offload is required (checksums are done in
 * software); TX of multi-segment mbufs is enabled where the PMD offers it. The port is
 * put in promiscuous mode (bump in the wire) and started, and one log line says its
 * driver, MAC, queues, MTU and whether RSS is on. <mtu> (0: 1500) is the largest IP
 * packet the link carries: the device must take it and <pool>'s buffers must hold
 * such a frame whole (dp_worker_data_room()).
 * Returns 0, or a negative errno with one line in <err> (<errlen> bytes) that names the
 * port and the error. On error the port may be left configured but not started. */
int dp_port_setup(uint16_t port_id, uint16_t n_queues, uint16_t rx_desc, uint16_t tx_desc,
		  uint16_t mtu, struct rte_mempool *pool, char *err, size_t errlen);

/* The largest frame port <dev> (its configuration string) may deliver on a link of
 * <mtu>: mtu plus DP_FRAME_OVERHEAD; for af_packet, whatever its frames hold
 * (framesz=, 2048 by default), since it copies each whole frame into one mbuf. */
uint32_t dp_port_frame_max(const char *dev, uint16_t mtu);

/* Whether configuration string <dev> is an af_packet port, and its ring's frame size
 * (framesz=N, else the PMD's default 2048). Inline: the config checker uses them too. */
static inline bool dp_port_is_af_packet(const char *dev)
{
	/* eth_af_packet is the PMD's alias name */
	return strncmp(dev, "net_af_packet", 13) == 0 || strncmp(dev, "eth_af_packet", 13) == 0;
}

static inline uint32_t dp_port_af_packet_framesz(const char *dev)
{
	const char *p = strstr(dev, ",framesz=");

	return p ? (uint32_t)strtoul(p + 9, NULL, 10) : 2048;
}

/* An af_packet port's queue pairs (qpairs=N, else 1): its sockets in one PACKET_FANOUT
 * group, which the kernel spreads frames over, flow by flow. */
static inline uint32_t dp_port_af_packet_qpairs(const char *dev)
{
	const char *p = strstr(dev, ",qpairs=");

	return p ? (uint32_t)strtoul(p + 8, NULL, 10) : 1;
}

/* The af_packet PMD's sockets of interface iface= in port string <dev> (one a queue
 * pair), found among this process's descriptors: AF_PACKET sockets bound to that
 * interface. DPDK gives no way to reach them, and a worker that sleeps in poll() on
 * them wakes as soon as a frame arrives (loop.h). Writes at most <max> into <fds>;
 * returns how many there are (0 for another PMD, or when none is found). */
int dp_port_af_packet_fds(const char *dev, int *fds, int max);

/* The af_packet PMD's socket of RX queue <queue> of started port <port_id> (configuration
 * string <dev>), or -1. Read from the PMD's queue structure, whose first member is the
 * socket (DPDK 22.11 drivers/net/af_packet: struct pkt_rx_queue), and trusted only if
 * it is one of dp_port_af_packet_fds(); a port with one socket needs no such read. */
int dp_port_af_packet_queue_fd(uint16_t port_id, uint16_t queue, const char *dev);

/* Bytes of an af_packet ring frame before the packet (TPACKET2 header, sockaddr_ll,
 * aligned): a frame of framesz holds a packet of framesz - this. */
#define DP_PORT_AF_PACKET_HDR 64

/* Reads how started port <port_id> spreads TCP over its queues: its RSS key and
 * redirection table, as the NIC uses them (for handoff.h). Returns 0, or -1 with one
 * line in <err> when the PMD does not say (no RSS, no redirection table query, a
 * table or key larger than struct dp_rss holds). */
int dp_port_rss_get(uint16_t port_id, struct dp_rss *out, char *err, size_t errlen);

/* Whether port <port_id>'s PMD spreads TCP flows over its queues by RSS with a
 * redirection table (dp_port_setup() then configures it): if not, several workers
 * spread flows in software (handoff.h). */
int dp_port_rss_capable(uint16_t port_id);

/* Logs the port's ethdev statistics (ipackets, opackets, imissed, ierrors, oerrors,
 * rx_nombuf) as one line. Safe on a stopped port. */
void dp_port_log_stats(uint16_t port_id);

/* Logs the port's statistics, then stops it. Call only once no worker polls it.
 * Returns 0 or a negative errno (logged). */
int dp_port_stop(uint16_t port_id);

/* Closes (releases) a stopped port. Its RX rings' mbufs go back to their pool, so the
 * pool must outlive this call. Returns 0 or a negative errno (logged). */
int dp_port_close(uint16_t port_id);

#endif
