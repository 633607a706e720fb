/// One column of a server-side table (meta.k8s.io/v1 `TableColumnDefinition`).
public struct TableColumn: Sendable {
    public var name: String
    public var type: String
    public var format: String
    public var description: String
    /// 0 shows always; 1 and above only with `-o wide`.
    public var priority: Int

    public init(_ name: String, type: String = "string", format: String = "", description: String = "", priority: Int = 0) {
        self.name = name
        self.type = type
        self.format = format
        self.description = description
        self.priority = priority
    }
}

/// How a kind prints as a table: its columns and a function from an object to one row of cells.
public struct TableDefinition: Sendable {
    public var columns: [TableColumn]
    public var cells: @Sendable (JSON) -> [JSON]

    public init(columns: [TableColumn], cells: @escaping @Sendable (JSON) -> [JSON]) {
        self.columns = columns
        self.cells = cells
    }

    /// NAME and AGE: what kubectl prints for kinds with no columns of their own.
    public static let nameAndAge = TableDefinition(
        columns: [
            TableColumn("Name", format: "name", description: "Name must be unique within a namespace."),
            TableColumn("Age", description: "CreationTimestamp is a timestamp representing the server time when this object was created."),
        ],
        cells: { object in
            [.string(ObjectMeta.name(of: object)), .string(Timestamp.age(of: object[path: ["metadata", "creationTimestamp"]]?.stringValue))]
        })

    /// The `columnDefinitions` array of a Table.
    public var columnDefinitionsJSON: JSON {
        .array(columns.map { column in
            ["name": .string(column.name), "type": .string(column.type), "format": .string(column.format),
             "description": .string(column.description), "priority": .int(Int64(column.priority))]
        })
    }

    /// One `rows[]` entry: the cells plus the object's metadata as PartialObjectMetadata
    /// (kubectl reads the namespace column of `-A` from it).
    public func row(for object: JSON, includeObject: String = "Metadata") -> JSON {
        var row: JSON = ["cells": .array(cells(object))]
        switch includeObject {
        case "None": break
        case "Object": row["object"] = object
        default:
            row["object"] = [
                "kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                "metadata": object["metadata"] ?? .emptyObject,
            ]
        }
        return row
    }
}
