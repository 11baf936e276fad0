/*
 * bench/peer/PeerServer.java: Iceberg's reference REST catalog server (open-api test fixtures, 1.11.0), bound
 * to 127.0.0.1, for bench/peers.sh.
 *
 * It builds what RESTCatalogServer.start() builds: a JdbcCatalog (jdbc.schema-version V1, so views work) on a
 * SQLite FILE (the stock default jdbc:sqlite::memory: gives each pooled connection its own empty database),
 * a file warehouse, RESTServerCatalogAdapter + RESTCatalogServlet in a Jetty ServletContextHandler with the
 * same gzip CompressionHandler. The one difference is the connector: the stock main binds every interface;
 * this one binds the given host (127.0.0.1) and port (0: any free port).
 *
 * In package org.apache.iceberg.rest because RESTServerCatalogAdapter and RESTCatalogServer.CatalogContext are
 * package-private. Compiled by bench/peers.sh (or bench/peers-setup.sh) against build/rck/jars (tests/rck/install.sh).
 *
 *   java -cp 'build/peer/classes:build/rck/jars/*' org.apache.iceberg.rest.PeerServer \
 *        --host 127.0.0.1 --port 0 --db /tmp/x/catalog.db --warehouse /tmp/x/warehouse
 * prints "peer listening on http://127.0.0.1:PORT" once it accepts connections; stops on SIGTERM.
 */
package org.apache.iceberg.rest;

import java.io.File;
import java.util.HashMap;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.iceberg.CatalogProperties;
import org.apache.iceberg.CatalogUtil;
import org.apache.iceberg.catalog.Catalog;
import org.apache.iceberg.jdbc.JdbcCatalog;
import org.eclipse.jetty.compression.gzip.GzipCompression;
import org.eclipse.jetty.compression.server.CompressionHandler;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

public final class PeerServer {
  private PeerServer() {}

  public static void main(String[] args) throws Exception {
    String host = "127.0.0.1";
    int port = 0;
    String db = null;
    String warehouse = null;
    Map<String, String> extra = new HashMap<>();
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      String v = i + 1 < args.length ? args[i + 1] : null;
      switch (a) {
        case "--host": host = v; i++; break;
        case "--port": port = Integer.parseInt(v); i++; break;
        case "--db": db = v; i++; break;
        case "--warehouse": warehouse = v; i++; break;
        case "--prop": {
          int eq = v.indexOf('=');
          extra.put(v.substring(0, eq), v.substring(eq + 1));
          i++;
          break;
        }
        default:
          System.err.println("usage: PeerServer --db FILE --warehouse DIR [--host H] [--port P] [--prop k=v]...");
          System.exit(2);
      }
    }
    if (db == null || warehouse == null) {
      System.err.println("PeerServer: --db and --warehouse are required");
      System.exit(2);
    }

    Map<String, String> props = new HashMap<>();
    props.put(CatalogProperties.CATALOG_IMPL, JdbcCatalog.class.getName());
    props.put(CatalogProperties.URI, "jdbc:sqlite:" + new File(db).getAbsolutePath());
    props.put("jdbc.schema-version", "V1");
    props.put(CatalogProperties.WAREHOUSE_LOCATION, new File(warehouse).getAbsolutePath());
    props.putAll(extra);
    Catalog catalog = CatalogUtil.buildIcebergCatalog("rest_backend", props, new Configuration());

    RESTCatalogAdapter adapter =
        new RESTServerCatalogAdapter(new RESTCatalogServer.CatalogContext(catalog, props));
    ServletContextHandler context = new ServletContextHandler(ServletContextHandler.NO_SESSIONS);
    context.addServlet(new ServletHolder(new RESTCatalogServlet(adapter)), "/*");
    CompressionHandler compression = new CompressionHandler();
    compression.putCompression(new GzipCompression());
    context.insertHandler(compression);

    Server server = new Server();
    ServerConnector connector = new ServerConnector(server);
    connector.setHost(host);
    connector.setPort(port);
    server.addConnector(connector);
    server.setHandler(context);
    server.setStopAtShutdown(true);
    server.start();
    System.out.println("peer listening on http://" + host + ":" + connector.getLocalPort());
    System.out.flush();
    server.join();
  }
}
