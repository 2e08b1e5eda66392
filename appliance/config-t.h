/* config-t.h - the appliance's whole configuration, as loaded from one libconfig file.
 *
 * See appliance/tollgate.conf for the documented default and docs/operations.md.
 */
#ifndef TG_CONFIG_T_H
#define TG_CONFIG_T_H

#include <stdint.h>
#include "common/tg_rule_files.h"
#include "dataplane/dp_config-t.h"

#define CFG_MAX_EAL_ARGS  32
#define CFG_MAX_PAIRS     (DP_MAX_PORTS / 2)
#define CFG_PATH_MAX      256
#define CFG_ERR_MAX       512
#define CFG_MAX_RULE_FILES TG_RULE_FILES_MAX

/* How several workers share flows (dataplane/handoff.h). */
enum cfg_spread_mode {
	CFG_SPREAD_AUTO = 0,          /* the NIC's RSS where it is followed, else software */
	CFG_SPREAD_SOFTWARE = 1,      /* software always (a NIC whose RSS is not symmetric) */
};

enum cfg_poll_mode {
	CFG_POLL_BUSY     = 0,        /* spin on rx_burst: dedicated cores */
	CFG_POLL_ADAPTIVE = 1,        /* back off with short sleeps after empty polls */
};

/* One DPDK port: a PCI address ("0000:3b:00.0") or a vdev ("net_af_packet0,iface=veth1"). */
struct cfg_port {
	char name[DP_NAME_MAX];       /* operator's name, used by pairs ("client", "server") */
	char dev[CFG_PATH_MAX];       /* PCI address or vdev argument string */
	uint16_t rx_desc;             /* RX ring size */
	uint16_t tx_desc;             /* TX ring size */
	uint16_t mtu;                 /* largest IP packet, bytes (frames add L2 headers) */
};

/* A bump-in-the-wire pair: traffic from <a> goes out <b> and back. */
struct cfg_pair {
	uint16_t a;                   /* index into ports[] (client side) */
	uint16_t b;                   /* index into ports[] (server side) */
};

struct cfg {
	char path[CFG_PATH_MAX];      /* file it was loaded from */
	/* eal */
	int  n_eal_args;
	char eal_args[CFG_MAX_EAL_ARGS][CFG_PATH_MAX]; /* extra EAL arguments, in order */
	/* ports and pairs */
	uint16_t n_ports;
	struct cfg_port ports[DP_MAX_PORTS];
	uint16_t n_pairs;
	struct cfg_pair pairs[CFG_MAX_PAIRS];
	/* workers */
	uint16_t n_workers;           /* worker lcores (each gets one RX/TX queue per port) */
	uint8_t  poll;                /* enum cfg_poll_mode */
	uint8_t  spread;              /* enum cfg_spread_mode */
	uint32_t poll_idle_us;        /* adaptive: longest sleep after empty polls */
	uint32_t poll_deep_idle_us;   /* adaptive: longest sleep once the ports are quiet */
	uint32_t poll_deep_after_ms;  /* adaptive: quiet = no packet for this long (0: never) */
	uint32_t mbufs;               /* mbufs in the packet pool */
	/* rules */
	int  n_rule_files;            /* rule files, in order */
	char rule_files[CFG_MAX_RULE_FILES][CFG_PATH_MAX]; /* relative paths are resolved
	                               * against the config file's directory */
	unsigned rule_file_line[CFG_MAX_RULE_FILES]; /* each one's line in the config file */
	char rule_cache_dir[CFG_PATH_MAX]; /* compiled-database cache ("" = none) */
	/* recorder */
	char rec_dir[CFG_PATH_MAX];   /* LMDB environment directory ("" = no recording) */
	uint64_t rec_map_size;        /* LMDB map size, bytes */
	uint32_t rec_ring_size;       /* events per worker ring (power of two) */
	uint32_t rec_batch_ms;        /* a write transaction at least this often */
	uint8_t  rec_mask_statements; /* field rules mask recorded statements' text */
	uint32_t rec_max_age_s;       /* retention by age (0 = keep) */
	uint64_t rec_max_bytes;       /* retention by size (0 = no limit) */
	/* management API */
	char mgmt_listen[128];        /* "ADDR:PORT" ("" = no API) */
	char mgmt_cert[CFG_PATH_MAX]; /* PEM certificate ("" = self-signed, generated) */
	char mgmt_key[CFG_PATH_MAX];  /* PEM key */
	char mgmt_state_dir[CFG_PATH_MAX]; /* where a generated certificate is kept */
	uint32_t mgmt_max_body;       /* largest request body, bytes */
	uint16_t n_tokens;
	struct cfg_token {
		char name[64];        /* who, in the audit log */
		uint8_t role;         /* 1 user, 2 auditor, 3 approver, 4 admin */
		uint8_t sha256[32];   /* SHA-256 of the token */
	} tokens[32];
	/* logging */
	char log_level[16];           /* "debug", "info", "warn", "error" */
	/* the data plane */
	struct dp_config dp;
};

#endif
