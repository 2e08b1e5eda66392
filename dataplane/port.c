/* port.c - DPDK ports: device strings to EAL arguments and port ids, set-up, stop, close. */
#include <dirent.h>
#include <errno.h>
#include <net/if.h>
#include <linux/if_packet.h>
#include <sys/socket.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_pci.h>
#include "common/tg_log.h"
#include "dataplane/handoff.h"
#include "dataplane/port.h"

/* Toeplitz with a key made of one repeated 16-bit pattern hashes (src, dst) and
 * (dst, src) alike, because swapping the addresses (and the ports) only shifts which key
 * bits meet which input bits by a multiple of 16 (Woo and Park, "Scalable TCP session
 * monitoring with symmetric receive-side scaling"). DPDK 22.11's ethdev RSS
 * configuration has no hash-function field (RTE_ETH_HASH_FUNCTION_SYMMETRIC_TOEPLITZ
 * exists only for rte_flow RSS actions, and PMD support for it varies), so the key is
 * what every Toeplitz PMD honours. */
#define PORT_RSS_KEY_DEFAULT_LEN 40
#define PORT_RSS_HF (RTE_ETH_RSS_NONFRAG_IPV4_TCP | RTE_ETH_RSS_NONFRAG_IPV6_TCP)
#define PORT_DEFAULT_RING 1024

static const char *port_driver(const struct rte_eth_dev_info *info)
{
	return info->driver_name ? info->driver_name : "?";
}

/* Copies the part of <dev> before the first comma into <out>. Returns 0, or -1 if it
 * does not fit or is empty. */
static int port_dev_head(const char *dev, char *out, size_t outlen)
{
	size_t n = strcspn(dev, ",");

	if (n == 0 || n >= outlen)
		return -1;
	memcpy(out, dev, n);
	out[n] = '\0';
	return 0;
}

bool dp_port_is_pci(const char *dev)
{
	char head[RTE_DEV_NAME_MAX_LEN];
	struct rte_pci_addr addr;

	if (port_dev_head(dev, head, sizeof(head)) < 0)
		return false;
	return rte_pci_addr_parse(head, &addr) == 0;
}

int dp_port_dev_name(const char *dev, char *name, size_t namelen)
{
	char head[RTE_DEV_NAME_MAX_LEN];
	struct rte_pci_addr addr;

	if (port_dev_head(dev, head, sizeof(head)) < 0)
		return -1;
	if (rte_pci_addr_parse(head, &addr) == 0) {
		/* EAL names a PCI port by its full domain:bus:device.function address,
		 * whichever form the operator wrote. */
		if (namelen < PCI_PRI_STR_SIZE)
			return -1;
		rte_pci_device_name(&addr, name, namelen);
		return 0;
	}
	if (strlen(head) >= namelen)
		return -1;
	strcpy(name, head);
	return 0;
}

int dp_port_eal_arg(const char *dev, char *out, size_t outlen, char *err, size_t errlen)
{
	int n;

	if (dev == NULL || dev[0] == '\0' || dev[0] == ',') {
		snprintf(err, errlen, "port device \"%s\": empty device name", dev ? dev : "");
		return -1;
	}
	/* A PCI address keeps its devargs ("0000:3b:00.0,rxq_cqe_comp_en=0"): the allow
	 * list takes them. */
	if (dp_port_is_pci(dev))
		n = snprintf(out, outlen, "--allow=%s", dev);
	else
		n = snprintf(out, outlen, "--vdev=%s", dev);
	if (n < 0 || (size_t)n >= outlen) {
		snprintf(err, errlen, "port device \"%s\": too long for an EAL argument", dev);
		return -1;
	}
	return 0;
}

int dp_port_lookup(const char *dev, uint16_t *port_id, char *err, size_t errlen)
{
	char name[RTE_ETH_NAME_MAX_LEN];

	if (dp_port_dev_name(dev, name, sizeof(name)) < 0) {
		snprintf(err, errlen, "port device \"%s\": bad device name", dev);
		return -1;
	}
	if (rte_eth_dev_get_port_by_name(name, port_id) != 0) {
		snprintf(err, errlen, "port device \"%s\": no ethdev named \"%s\" after EAL start-up "
			 "(PCI device not bound to a DPDK driver, or bad vdev arguments?)", dev, name);
		return -1;
	}
	return 0;
}

/* Fills <rss> for a symmetric TCP hash over <n_queues> queues. <key> must hold 256 bytes.
 * Returns 0, or -ENOTSUP when the PMD hashes neither TCP/IPv4 nor TCP/IPv6. */
static int port_rss_conf(uint16_t port_id, const struct rte_eth_dev_info *info,
			 struct rte_eth_rss_conf *rss, uint8_t *key)
{
	uint64_t hf = PORT_RSS_HF & info->flow_type_rss_offloads;
	unsigned key_len = info->hash_key_size ? info->hash_key_size : PORT_RSS_KEY_DEFAULT_LEN;

	if (hf == 0)
		return -ENOTSUP;
	if (hf != PORT_RSS_HF)
		TG_WARN("port", "port %u (%s): RSS hashes only TCP over IPv%s; other TCP lands on queue 0",
			port_id, port_driver(info), (hf & RTE_ETH_RSS_NONFRAG_IPV4_TCP) ? "4" : "6");
	/* The PMD's own key size (52 bytes on i40e, 40 on most): a key of another length
	 * is refused by some PMDs. */
	for (unsigned i = 0; i < key_len; i++)
		key[i] = (i & 1) ? 0x5a : 0x6d;
	rss->rss_key = key;
	rss->rss_key_len = (uint8_t)key_len;
	rss->rss_hf = hf;
	return 0;
}

int dp_port_rss_capable(uint16_t port_id)
{
	struct rte_eth_dev_info info;

	if (rte_eth_dev_info_get(port_id, &info) != 0)
		return 0;
	return (info.flow_type_rss_offloads & PORT_RSS_HF) != 0 && info.reta_size > 0;
}

int dp_port_rss_get(uint16_t port_id, struct dp_rss *out, char *err, size_t errlen)
{
	struct rte_eth_rss_reta_entry64 reta[DP_RSS_RETA_MAX / RTE_ETH_RETA_GROUP_SIZE];
	struct rte_eth_rss_conf rc;
	struct rte_eth_dev_info info;
	uint8_t key[256];
	unsigned key_len;
	int rv;

	memset(out, 0, sizeof(*out));
	rv = rte_eth_dev_info_get(port_id, &info);
	if (rv != 0) {
		snprintf(err, errlen, "port %u: rte_eth_dev_info_get: %s", port_id, rte_strerror(-rv));
		return -1;
	}
	if (info.reta_size == 0 || info.reta_size > DP_RSS_RETA_MAX) {
		snprintf(err, errlen, "port %u (%s): RSS redirection table of %u entries (1 to %u "
			 "can be followed)", port_id, port_driver(&info), info.reta_size, DP_RSS_RETA_MAX);
		return -1;
	}
	memset(reta, 0, sizeof(reta));
	for (unsigned g = 0; g < (info.reta_size + RTE_ETH_RETA_GROUP_SIZE - 1u) / RTE_ETH_RETA_GROUP_SIZE; g++)
		reta[g].mask = UINT64_MAX;
	rv = rte_eth_dev_rss_reta_query(port_id, reta, info.reta_size);
	if (rv != 0) {
		snprintf(err, errlen, "port %u (%s): cannot read the RSS redirection table: %s",
			 port_id, port_driver(&info), rte_strerror(-rv));
		return -1;
	}
	/* ethdev wants room for the device's key; some PMDs (ixgbe, igb) write the key
	 * but leave rss_key_len as it was given: then it is the device's size */
	key_len = info.hash_key_size ? info.hash_key_size : PORT_RSS_KEY_DEFAULT_LEN;
	if (key_len > DP_RSS_KEY_MAX) {
		snprintf(err, errlen, "port %u (%s): RSS key of %u bytes (at most %u can be followed)",
			 port_id, port_driver(&info), key_len, DP_RSS_KEY_MAX);
		return -1;
	}
	memset(&rc, 0, sizeof(rc));
	rc.rss_key = key;
	rc.rss_key_len = (uint8_t)key_len;
	rv = rte_eth_dev_rss_hash_conf_get(port_id, &rc);
	if (rv != 0) {
		snprintf(err, errlen, "port %u (%s): cannot read the RSS key: %s", port_id,
			 port_driver(&info), rte_strerror(-rv));
		return -1;
	}
	if (rc.rss_key_len == 0 || rc.rss_key_len > DP_RSS_KEY_MAX)
		rc.rss_key_len = (uint8_t)key_len;
	/* a NIC gives what it does not hash for TCP hash 0: the handoff must know */
	out->tcp4 = (rc.rss_hf & RTE_ETH_RSS_NONFRAG_IPV4_TCP) != 0;
	out->tcp6 = (rc.rss_hf & RTE_ETH_RSS_NONFRAG_IPV6_TCP) != 0;
	out->reta_size = info.reta_size;
	for (unsigned i = 0; i < info.reta_size; i++)
		out->reta[i] = reta[i / RTE_ETH_RETA_GROUP_SIZE].reta[i % RTE_ETH_RETA_GROUP_SIZE];
	memcpy(out->key, key, rc.rss_key_len);
	out->key_len = rc.rss_key_len;
	return 0;
}

uint32_t dp_port_frame_max(const char *dev, uint16_t mtu)
{
	uint32_t f = (uint32_t)(mtu ? mtu : RTE_ETHER_MTU) + DP_FRAME_OVERHEAD;

	/* af_packet refuses a queue whose frames (framesz minus its 32-byte header part)
	 * would not fit the pool's buffers */
	if (dp_port_is_af_packet(dev)) {
		uint32_t a = dp_port_af_packet_framesz(dev);
		f = a > f ? a : f;
	}
	return f;
}

/* Picks the ring size: the operator's, else the PMD's preference, else a default. */
static uint16_t port_ring_size(uint16_t wanted, uint16_t pmd_pref)
{
	if (wanted)
		return wanted;
	return pmd_pref ? pmd_pref : PORT_DEFAULT_RING;
}

/* Sets up <n_queues> RX and TX queues of a configured port. Returns 0 or a negative errno. */
static int port_queues_setup(uint16_t port_id, const struct rte_eth_dev_info *info,
			     const struct rte_eth_conf *conf, uint16_t n_queues,
			     uint16_t *rx_desc, uint16_t *tx_desc, struct rte_mempool *pool,
			     char *err, size_t errlen)
{
	struct rte_eth_rxconf rxconf = info->default_rxconf;
	struct rte_eth_txconf txconf = info->default_txconf;
	int socket = rte_eth_dev_socket_id(port_id);
	int rc;

	if (socket < 0)
		socket = SOCKET_ID_ANY;
	rc = rte_eth_dev_adjust_nb_rx_tx_desc(port_id, rx_desc, tx_desc);
	if (rc < 0) {
		snprintf(err, errlen, "port %u (%s): adjusting ring sizes: %s",
			 port_id, port_driver(info), rte_strerror(-rc));
		return rc;
	}
	rxconf.offloads = conf->rxmode.offloads;
	txconf.offloads = conf->txmode.offloads;
	for (uint16_t q = 0; q < n_queues; q++) {
		rc = rte_eth_rx_queue_setup(port_id, q, *rx_desc, (unsigned)socket, &rxconf, pool);
		if (rc < 0) {
			snprintf(err, errlen, "port %u (%s): RX queue %u setup (%u descriptors): %s",
				 port_id, port_driver(info), q, *rx_desc, rte_strerror(-rc));
			return rc;
		}
		rc = rte_eth_tx_queue_setup(port_id, q, *tx_desc, (unsigned)socket, &txconf);
		if (rc < 0) {
			snprintf(err, errlen, "port %u (%s): TX queue %u setup (%u descriptors): %s",
				 port_id, port_driver(info), q, *tx_desc, rte_strerror(-rc));
			return rc;
		}
	}
	return 0;
}

int dp_port_setup(uint16_t port_id, uint16_t n_queues, uint16_t rx_desc, uint16_t tx_desc,
		  uint16_t mtu, struct rte_mempool *pool, char *err, size_t errlen)
{
	struct rte_eth_dev_info info;
	struct rte_eth_conf conf;
	struct rte_ether_addr mac;
	char macstr[RTE_ETHER_ADDR_FMT_SIZE] = "?";
	char name[RTE_ETH_NAME_MAX_LEN] = "?";
	uint8_t key[256];
	int af_jumbo = 0;
	uint16_t mtu_asked = mtu;
	int rc;

	memset(&conf, 0, sizeof(conf));
	if (n_queues == 0) {
		snprintf(err, errlen, "port %u: no queues asked for (no workers?)", port_id);
		return -EINVAL;
	}
	rc = rte_eth_dev_info_get(port_id, &info);
	if (rc != 0) {
		snprintf(err, errlen, "port %u: rte_eth_dev_info_get: %s", port_id, rte_strerror(-rc));
		return rc;
	}
	if (n_queues > 1) {
		/* without RSS the workers spread flows in software (handoff.h): each still
		 * needs a queue of its own, to send on and to take what the device gives it */
		if (port_rss_conf(port_id, &info, &conf.rx_adv_conf.rss_conf, key) == 0)
			conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		else
			TG_INFO("port", "port %u (%s): no RSS; the %u workers spread flows in "
				"software", port_id, port_driver(&info), n_queues);
	}
	if (n_queues > info.max_rx_queues || n_queues > info.max_tx_queues) {
		snprintf(err, errlen, "port %u (%s): %u workers need %u RX and TX queues, the device "
			 "has %u RX and %u TX: use fewer workers%s", port_id, port_driver(&info),
			 n_queues, n_queues, info.max_rx_queues, info.max_tx_queues,
			 strcmp(port_driver(&info), "net_af_packet") == 0 ?
			 ", or give the port that many queues (qpairs=N in its dev string)" : "");
		return -EINVAL;
	}
	/* RX checksum verification where the PMD offers it: the worker then trusts the
	 * mbuf's GOOD/BAD flags and sums in software only what the NIC left UNKNOWN (10 to
	 * 20 % of a packet's cost on the tracked path). Checksums of what the appliance
	 * sends are written in software (incrementally for forwarded segments), so no TX
	 * offload is needed. Chained mbufs (the stream editor may build them) need
	 * MULTI_SEGS on PMDs whose default TX path handles single segments only; it is
	 * harmless where offered. */
	/* The MTU the link runs: frames up to it arrive whole, in one mbuf (the pool's
	 * buffers are sized for the largest port MTU). A PMD that cannot take it refuses
	 * here, with its limit in the message, rather than dropping big frames later. */
	/* af_packet (DPDK 22.11 and later) reports frames of 1518 bytes at most, yet
	 * receives and sends whatever the kernel interface's MTU and its frame size let
	 * through: a larger MTU is the interface's business (ip link set ... mtu), and
	 * ethdev is told the standard one. */
	if (mtu > RTE_ETHER_MTU && strcmp(port_driver(&info), "net_af_packet") == 0 &&
	    (uint32_t)mtu + RTE_ETHER_HDR_LEN + RTE_ETHER_CRC_LEN > info.max_rx_pktlen) {
		TG_INFO("port", "port %u (net_af_packet): mtu %u is the kernel interface's (set it "
			"with ip link; framesz must hold the frames); ethdev keeps %u", port_id,
			mtu, RTE_ETHER_MTU);
		mtu = RTE_ETHER_MTU;
		af_jumbo = 1;
	}
	if (mtu && (mtu > info.max_mtu || mtu < info.min_mtu)) {
		snprintf(err, errlen, "port %u (%s): mtu %u is outside what the device takes "
			 "(%u to %u)%s", port_id, port_driver(&info), mtu, info.min_mtu, info.max_mtu,
			 strcmp(port_driver(&info), "net_af_packet") == 0 ?
			 "; for af_packet, framesz in the dev string bounds it" : "");
		return -EINVAL;
	}
	if (mtu && (uint32_t)mtu + DP_FRAME_OVERHEAD + RTE_PKTMBUF_HEADROOM >
		   rte_pktmbuf_data_room_size(pool)) {
		snprintf(err, errlen, "port %u (%s): mtu %u does not fit the pool's buffers (%u bytes)",
			 port_id, port_driver(&info), mtu, rte_pktmbuf_data_room_size(pool));
		return -EINVAL;
	}
	conf.rxmode.mtu = mtu ? mtu : RTE_ETHER_MTU;
	conf.rxmode.offloads = info.rx_offload_capa &
			       (RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_TCP_CKSUM);
	conf.txmode.offloads = info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
	rc = rte_eth_dev_configure(port_id, n_queues, n_queues, &conf);
	if (rc < 0) {
		snprintf(err, errlen, "port %u (%s): rte_eth_dev_configure (%u queues): %s",
			 port_id, port_driver(&info), n_queues, rte_strerror(-rc));
		return rc;
	}
	rx_desc = port_ring_size(rx_desc, info.default_rxportconf.ring_size);
	tx_desc = port_ring_size(tx_desc, info.default_txportconf.ring_size);
	rc = port_queues_setup(port_id, &info, &conf, n_queues, &rx_desc, &tx_desc, pool,
			       err, errlen);
	if (rc < 0)
		return rc;
	/* Bump in the wire: every frame on the segment is ours to forward, not only those
	 * addressed to the port's MAC. A PMD without the notion (net_ring) delivers all. */
	rc = rte_eth_promiscuous_enable(port_id);
	if (rc == -ENOTSUP) {
		TG_WARN("port", "port %u (%s): no promiscuous mode; assuming it delivers every frame",
			port_id, port_driver(&info));
	} else if (rc != 0) {
		snprintf(err, errlen, "port %u (%s): promiscuous mode: %s",
			 port_id, port_driver(&info), rte_strerror(-rc));
		return rc;
	}
	rc = rte_eth_dev_start(port_id);
	if (rc < 0) {
		snprintf(err, errlen, "port %u (%s): rte_eth_dev_start: %s",
			 port_id, port_driver(&info), rte_strerror(-rc));
		return rc;
	}
	if (rte_eth_macaddr_get(port_id, &mac) == 0)
		rte_ether_format_addr(macstr, sizeof(macstr), &mac);
	rte_eth_dev_get_name_by_port(port_id, name);
	TG_INFO("port", "port %u (%s) up: driver %s, mac %s, mtu %u, %u rx/tx queues (%u/%u "
		"descriptors), rss %s", port_id, name, port_driver(&info), macstr,
		af_jumbo ? mtu_asked : conf.rxmode.mtu, n_queues, rx_desc, tx_desc,
		n_queues > 1 ? "yes (symmetric key)" : "no");
	return 0;
}

void dp_port_log_stats(uint16_t port_id)
{
	struct rte_eth_stats st;
	int rc = rte_eth_stats_get(port_id, &st);

	if (rc != 0) {
		TG_WARN("port", "port %u: rte_eth_stats_get: %s", port_id, rte_strerror(-rc));
		return;
	}
	TG_INFO("port", "port %u stats: ipackets %" PRIu64 " opackets %" PRIu64 " imissed %" PRIu64
		" ierrors %" PRIu64 " oerrors %" PRIu64 " rx_nombuf %" PRIu64,
		port_id, st.ipackets, st.opackets, st.imissed, st.ierrors, st.oerrors, st.rx_nombuf);
}

int dp_port_stop(uint16_t port_id)
{
	int rc;

	dp_port_log_stats(port_id);
	rc = rte_eth_dev_stop(port_id);
	if (rc != 0)
		TG_WARN("port", "port %u: rte_eth_dev_stop: %s", port_id, rte_strerror(-rc));
	return rc;
}

int dp_port_close(uint16_t port_id)
{
	int rc = rte_eth_dev_close(port_id);

	if (rc != 0)
		TG_WARN("port", "port %u: rte_eth_dev_close: %s", port_id, rte_strerror(-rc));
	return rc;
}

int dp_port_af_packet_fds(const char *dev, int *fds, int max)
{
	const char *p = dev ? strstr(dev, ",iface=") : NULL;
	char name[IF_NAMESIZE];
	struct dirent *e;
	unsigned ifindex;
	size_t len;
	DIR *d;
	int n = 0;

	if (p == NULL || !dp_port_is_af_packet(dev))
		return 0;
	p += 7;
	len = strcspn(p, ",");
	if (len == 0 || len >= sizeof(name))
		return 0;
	memcpy(name, p, len);
	name[len] = '\0';
	if ((ifindex = if_nametoindex(name)) == 0 || (d = opendir("/proc/self/fd")) == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		struct sockaddr_ll sll;
		socklen_t sl = sizeof(sll), dl;
		int fd, dom;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		fd = atoi(e->d_name);
		dl = sizeof(dom);
		if (fd == dirfd(d) ||
		    getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &dl) != 0 || dom != AF_PACKET)
			continue;
		memset(&sll, 0, sizeof(sll));
		if (getsockname(fd, (struct sockaddr *)&sll, &sl) != 0 ||
		    sll.sll_family != AF_PACKET || (unsigned)sll.sll_ifindex != ifindex)
			continue;
		if (n < max)
			fds[n] = fd;
		n++;
	}
	closedir(d);
	return n;
}

int dp_port_af_packet_queue_fd(uint16_t port_id, uint16_t queue, const char *dev)
{
	int fds[64];
	int n = dp_port_af_packet_fds(dev, fds, (int)RTE_DIM(fds));
	const struct rte_eth_fp_ops *ops;

	if (n <= 0)
		return -1;
	if (port_id < RTE_MAX_ETHPORTS && queue < RTE_MAX_QUEUES_PER_PORT) {
		ops = &rte_eth_fp_ops[port_id];
		if (ops->rxq.data != NULL && ops->rxq.data[queue] != NULL) {
			int fd = *(const int *)ops->rxq.data[queue];

			for (int i = 0; i < n && i < (int)RTE_DIM(fds); i++)
				if (fds[i] == fd)
					return fd;
		}
	}
	return n == 1 ? fds[0] : -1;
}
